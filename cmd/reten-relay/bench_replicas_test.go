package main

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/reten/reten-relay/relay/config"
	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/relay/tasks"
	"github.com/reten/reten-relay/sinks/embeddednats"
	"github.com/reten/reten-relay/sources/reten/retensim"
)

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// BenchmarkState_Cycle compares the bbolt file with the JetStream KV bucket in the same
// run: the first sync of RETEN_BENCH_TASKS tasks (default 100,000; reported as
// first-sync-s) and then cycles in which 100 of them changed (ns/op), each cycle listing
// everything, committing and publishing to JetStream.
func BenchmarkState_Cycle(b *testing.B) {
	n := envInt("RETEN_BENCH_TASKS", 100_000)
	for _, kind := range []string{"file", "nats-kv"} {
		b.Run(fmt.Sprintf("%s/tasks=%d", kind, n), func(b *testing.B) { benchStateCycles(b, kind, n) })
	}
}

func benchStateCycles(b *testing.B, kind string, n int) {
	sim := retensim.New(b, retensim.WithTasks(n))
	// fsync on every write, as the relay's own embedded server and deploy/nats.conf do:
	// the file state fsyncs each commit too.
	nt, err := embeddednats.Start(embeddednats.Options{Port: -1, StoreDir: b.TempDir(), SyncAlways: true})
	if err != nil {
		b.Fatal(err)
	}
	defer nt.Shutdown()
	state := fmt.Sprintf("%q", filepath.Join(b.TempDir(), "tasks.db"))
	if kind == "nats-kv" {
		state = "nats-kv:BENCH_STATE"
	}
	yaml := fmt.Sprintf(`
reten: {url: %q, api_key: %q, timeout: 30s}
nats: {url: %q}
tasks:
  interval: 1h
  concurrency: 8
  state: %s
  replica: bench
  routes: [{name: all, sink: nats, subject: "reten.tasks.{op}.{channel}"}]
http: {listen: "127.0.0.1:0"}
`, sim.URL(), sim.APIKey(), nt.URL(), state)
	cfg, err := config.Load("bench.yaml", []byte(yaml), nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := build(ctx, cfg, zerolog.Nop(), appOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = a.close(context.Background()) }()
	run := func(ctx context.Context, p *tasks.Poller) {
		start := time.Now()
		if rep, err := p.Cycle(ctx); err != nil || rep.Created != n {
			b.Errorf("first sync: %+v, %v", rep, err)
			return
		}
		firstSync := time.Since(start)
		defer func() { b.ReportMetric(firstSync.Seconds(), "first-sync-s") }()
		b.ResetTimer()
		for range b.N {
			b.StopTimer()
			sim.Churn(100)
			b.StartTimer()
			if _, err := p.Cycle(ctx); err != nil {
				b.Errorf("cycle: %v", err)
				return
			}
		}
		b.StopTimer()
		// What a relay that starts (or takes over) pays before its first cycle is done:
		// loading the snapshot and listing everything, nothing changed.
		pcfg := a.taskCfg
		if a.replicas != nil {
			pcfg = a.replicas.pcfg
		}
		fresh, err := tasks.New(pcfg)
		if err != nil {
			b.Error(err)
			return
		}
		start = time.Now()
		if _, err := fresh.Cycle(ctx); err != nil {
			b.Errorf("first cycle of a fresh poller: %v", err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "fresh-cycle-s")
	}
	if a.replicas == nil {
		run(ctx, a.poller)
		return
	}
	// The KV state needs the lease, renewed as in production while the cycles run.
	lctx, stop := context.WithCancel(ctx)
	_ = a.replicas.store.Lease().Run(lctx, func(tctx context.Context) error {
		defer stop()
		p, err := tasks.New(a.replicas.pcfg)
		if err != nil {
			b.Error(err)
			return nil
		}
		run(tctx, p)
		return nil
	})
}

// BenchmarkReplicas_TakeOver runs three relay processes on one JetStream (lease_ttl 2s,
// 300 tasks changing) and, five times per iteration, SIGKILLs the lease holder and
// measures how long after the kill another replica asks Reten for tasks; the killed one
// is started again each time. It reports the median and the slowest take-over, in
// milliseconds and as a share of lease_ttl.
func BenchmarkReplicas_TakeOver(b *testing.B) {
	ttl := replicaLeaseTTL
	if d, err := time.ParseDuration(os.Getenv("RETEN_BENCH_LEASE_TTL")); err == nil {
		ttl = d
	}
	var all []time.Duration
	for range b.N {
		all = append(all, takeOvers(b, ttl, 5)...)
	}
	b.ReportMetric(float64(median(all).Milliseconds()), "median-ms")
	b.ReportMetric(float64(slices.Max(all).Milliseconds()), "max-ms")
	b.ReportMetric(median(all).Seconds()/ttl.Seconds(), "median/ttl")
}

func takeOvers(b *testing.B, ttl time.Duration, n int) []time.Duration {
	sim := retensim.New(b, retensim.WithTasks(300))
	nt := relaytest.StartNATS(b)
	dir := b.TempDir()
	var mu sync.Mutex
	var polls []poll
	sim.OnRequest(func(ep retensim.Endpoint, r *http.Request) {
		if ep == retensim.EndpointListTasks {
			_, name, _ := strings.Cut(r.UserAgent(), "replica/")
			mu.Lock()
			polls = append(polls, poll{at: time.Now(), replica: name})
			mu.Unlock()
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sim.StartChurn(ctx, 50*time.Millisecond, 3)
	paths := map[string]string{}
	children := map[string]*child{}
	for _, name := range []string{"r1", "r2", "r3"} {
		paths[name] = filepath.Join(dir, name+".yaml")
		yaml := fmt.Sprintf(`
reten: {url: %q, api_key: %q, timeout: 2s}
nats: {url: %q}
tasks:
  interval: 100ms
  state: nats-kv:RELAY_STATE
  lease_ttl: %s
  replica: %s
  routes: [{name: all, sink: nats, subject: "reten.tasks.{op}.{channel}"}]
http: {listen: "127.0.0.1:0"}
`, sim.URL(), sim.APIKey(), nt.URL(), ttl, name)
		if err := os.WriteFile(paths[name], []byte(yaml), 0o600); err != nil {
			b.Fatal(err)
		}
		children[name] = startChild(b, paths[name], "")
	}
	// after returns the first poll after from by a replica other than not.
	after := func(from time.Time, not string) (poll, bool) {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range polls {
			if p.at.After(from) && p.replica != not {
				return p, true
			}
		}
		return poll{}, false
	}
	var took []time.Duration
	var holder poll
	relaytest.WaitFor(b, e2eWait, "a first poller", func() bool {
		var ok bool
		holder, ok = after(time.Time{}, "")
		return ok
	})
	for range n {
		killedAt := time.Now()
		children[holder.replica].kill()
		relaytest.WaitFor(b, 10*ttl, "a take-over", func() bool {
			var ok bool
			next, ok := after(killedAt, holder.replica)
			if ok {
				took = append(took, next.at.Sub(killedAt))
				children[holder.replica] = startChild(b, paths[holder.replica], "")
				holder = next
			}
			return ok
		})
	}
	return took
}

// median returns the middle of ds (the upper middle for an even count).
func median[T cmp.Ordered](ds []T) T {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
