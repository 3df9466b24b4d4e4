package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/segmentio/kafka-go"

	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/sources/reten"
)

// BenchmarkTasksScale measures the tasks pipeline at tenant scale with every part in its
// own process, so CPU and memory are the relay's alone: the simulator and the relay (the
// real `run`) are subprocesses of the test binary, the broker runs in the benchmark. It
// reports the first sync next to a plain publisher of the same messages in the same run
// (JetStream async publish; one kafka-go Writer call), the CPU of an unchanged cycle, RSS
// and the state file's size.
//
//	go test -run '^$' -bench TasksScale -benchtime 1x -timeout 30m ./cmd/reten-relay/
//	RETEN_BENCH_PROFILE=/tmp/prof go test ... (CPU and heap profiles of the unchanged cycles after the first)
//	RETEN_BENCH_PROFILE=/tmp/prof RETEN_BENCH_PROFILE_SYNC=1 go test ... (the first sync's instead)
//	RETEN_BENCH_CYCLES=10 go test ... (unchanged cycles to measure; default 3)
//	RETEN_BENCH_TASKS=1000000 go test -run '^$' -bench 'TasksScale/nats' -benchtime 1x -timeout 60m ./cmd/reten-relay/
func BenchmarkTasksScale(b *testing.B) {
	n := 100_000
	if s := os.Getenv("RETEN_BENCH_TASKS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatalf("RETEN_BENCH_TASKS=%q: %v", s, err)
		}
	}
	for _, sink := range []string{"nats", "kafka"} {
		b.Run(sink, func(b *testing.B) {
			for b.Loop() {
				benchScale(b, n, sink)
			}
		})
	}
}

// scaleBroker is where the relay publishes, and a plain publisher to compare with.
type scaleBroker interface {
	config() (section, routes string)
	count(ctx context.Context) (int, error)
	sample(ctx context.Context, n int) ([][]byte, error)
	plain(ctx context.Context, bodies [][]byte, n int) (time.Duration, error)
	floor(ctx context.Context, name string, bodies [][]byte, list listFunc) (time.Duration, error)
}

// listFunc lists the tenant and calls fn with the number of tasks of each page, as the
// pages arrive (one call at a time).
type listFunc func(ctx context.Context, fn func(tasks int)) error

func benchScale(b *testing.B, n int, sink string) {
	dir := b.TempDir()
	sim, url, key := startSimProcess(b, n)
	var br scaleBroker
	if sink == "nats" {
		br = &natsBroker{n: relaytest.StartNATS(b)}
	} else {
		br = &kafkaBroker{k: relaytest.StartKafka(b)}
	}
	section, routes := br.config()
	cfg := fmt.Sprintf(`
reten: {url: %q, api_key: %q, timeout: 30s}
%s
tasks:
  interval: 5s
  page_size: 100
  concurrency: 16
  state: %q
  routes: %s
http: {listen: "127.0.0.1:0"}
log: {level: %s}
`, url, key, section, filepath.Join(dir, "tasks.db"), routes, cmp.Or(os.Getenv("RETEN_BENCH_LOG"), "info"))
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Minute)
	defer cancel()
	start, simStart, selfStart := time.Now(), sim.cpu(), selfCPU()
	relay := startBenchProc(b, "RETEN_RELAY_AS_MAIN=run -config "+path)
	var lastCount int
	var lastErr error
	waitBench(b, 45*time.Minute, "the first sync", func() bool {
		lastCount, lastErr = br.count(ctx)
		if time.Since(start) > time.Minute && lastCount == 0 {
			out := relay.out.String()
			b.Fatalf("no progress after a minute (count %d, %v); relay says:\n%s", lastCount, lastErr, out[max(0, len(out)-4000):])
		}
		return lastErr == nil && lastCount >= n
	})
	firstSync := time.Since(start)
	syncCPU := relay.cpu()
	syncSys, syncFaults := relay.sysAndFaults()
	// The simulator and this process (the broker, and the polling of its count) share the
	// two cores with the relay during the first sync.
	simCPU, selfSyncCPU := sim.cpu()-simStart, selfCPU()-selfStart
	peakAfterSync := relay.status("VmHWM")
	profile := os.Getenv("RETEN_BENCH_PROFILE")
	if profile != "" && os.Getenv("RETEN_BENCH_PROFILE_SYNC") != "" {
		_ = relay.cmd.Process.Signal(syscall.SIGUSR2) // the profile of the first sync is done
		waitBench(b, time.Minute, "the profiles", func() bool { _, err := os.Stat(filepath.Join(profile, "done")); return err == nil })
		_ = os.Remove(filepath.Join(profile, "done"))
		profile = ""
	}

	// Unchanged cycles: the CPU between two "tasks cycle" lines is one cycle's (the relay
	// idles in between).
	cycles := relay.count(`"message":"tasks cycle"`)
	var cpus []float64
	last := relay.cpu()
	want := 3
	if s := os.Getenv("RETEN_BENCH_CYCLES"); s != "" {
		want, _ = strconv.Atoi(s)
	}
	for len(cpus) < max(want, 1) {
		waitStart := time.Now()
		waitBench(b, 10*time.Minute, "an unchanged cycle", func() bool {
			if time.Since(waitStart) > time.Minute {
				out := relay.out.String()
				b.Fatalf("no cycle for a minute; relay says:\n%s", out[max(0, len(out)-4000):])
			}
			return relay.count(`"message":"tasks cycle"`) > cycles
		})
		cycles = relay.count(`"message":"tasks cycle"`)
		now := relay.cpu()
		// Only a cycle that changed nothing counts (the first sync may log its last
		// cycle after its events are all in the stream).
		if lines := cycleLine.FindAllString(relay.out.String(), -1); strings.Contains(lines[len(lines)-1], `"created":0,"updated":0,"deleted":0`) {
			cpus = append(cpus, now-last)
		}
		last = now
		if profile != "" && len(cpus) == 1 { // the first one may compact the state file
			_ = relay.cmd.Process.Signal(syscall.SIGUSR1)
		}
	}
	if profile != "" {
		_ = relay.cmd.Process.Signal(syscall.SIGUSR2)
		waitBench(b, time.Minute, "the profiles", func() bool { _, err := os.Stat(filepath.Join(profile, "done")); return err == nil })
		_ = os.Remove(filepath.Join(profile, "done"))
	}
	rss, peak := relay.status("VmRSS"), relay.status("VmHWM")
	anon, file := relay.status("RssAnon"), relay.status("RssFile")
	if os.Getenv("RETEN_BENCH_LOG") != "" {
		_ = os.WriteFile(filepath.Join(os.TempDir(), "reten-bench-relay.log"), []byte(relay.out.String()), 0o600)
	}
	st, _ := os.Stat(filepath.Join(dir, "tasks.db"))
	heap := relay.heapMetrics()
	relay.kill()

	b.Logf("first sync CPU-s: relay %.2f (system %.2f, %d minor faults), simulator %.2f, broker and benchmark %.2f", syncCPU, syncSys, syncFaults, simCPU, selfSyncCPU)
	b.Logf("relay: first sync %.1fs (%.1f CPU-s, peak RSS %.0f MB by then); unchanged cycles %v CPU-s; RSS %.0f MB (anonymous %.0f, file %.0f), peak %.0f MB; state %.0f MB; %s",
		firstSync.Seconds(), syncCPU, peakAfterSync/1024, cpus, rss/1024, anon/1024, file/1024, peak/1024, float64(st.Size())/(1<<20), heap)
	bodies, err := br.sample(ctx, 1000)
	if err != nil {
		b.Fatal(err)
	}
	plainCPU := selfCPU()
	plain, err := br.plain(ctx, bodies, n)
	plainCPU = selfCPU() - plainCPU
	if err != nil {
		b.Fatal(err)
	}
	listing, err := listOnly(ctx, url, key)
	if err != nil {
		b.Fatal(err)
	}
	floor, err := br.floor(ctx, "floor", bodies, lister(url, key))
	if err != nil {
		b.Fatal(err)
	}
	durableFloor, err := br.floor(ctx, "durable", bodies, durable(lister(url, key), filepath.Join(dir, "floor.log"), bodies))
	if err != nil {
		b.Fatal(err)
	}
	cycleCPU := median(cpus) // /proc counts 10 ms ticks: the smallest figure would flatter
	b.ReportMetric(firstSync.Seconds(), "first_sync_s")
	b.ReportMetric(plain.Seconds()/firstSync.Seconds(), "x_plain_publisher")
	b.ReportMetric(listing.Seconds(), "listing_only_s")
	b.ReportMetric(plain.Seconds()/floor.Seconds(), "x_plain_floor")
	b.ReportMetric(plain.Seconds()/durableFloor.Seconds(), "x_plain_durable_floor")
	b.ReportMetric(cycleCPU, "unchanged_cycle_cpu_s")
	b.ReportMetric(float64(n)/cycleCPU, "unchanged_tasks/cpu_s")
	b.ReportMetric(rss/1024, "rss_MB")
	b.ReportMetric(peak/1024, "peak_rss_MB")
	b.ReportMetric(float64(st.Size())/(1<<20), "state_MB")
	b.Logf("%s heap: %s", b.Name(), heap)
	b.Logf("%d tasks to %s: first sync %.1fs (%.1f CPU-s, peak RSS %.0f MB) vs plain publisher %.1fs = %.2fx; unchanged cycle %.2f CPU-s (%v) = %.0f tasks/CPU-s; RSS %.0f MB (anonymous %.0f, file %.0f), peak %.0f MB; state %.0f MB",
		n, b.Name(), firstSync.Seconds(), syncCPU, peakAfterSync/1024, plain.Seconds(), plain.Seconds()/firstSync.Seconds(),
		cycleCPU, cpus, float64(n)/cycleCPU, rss/1024, anon/1024, file/1024, peak/1024, float64(st.Size())/(1<<20))
	b.Logf("the plain publisher took %.2fs and %.2f CPU-s in this process (its client and the broker; the relay's first sync: %.2f CPU-s in the broker and benchmark, %.2f in the relay)",
		plain.Seconds(), plainCPU, selfSyncCPU, syncCPU)
	b.Logf("reading the same tasks and nothing else (the relay's Reten client, concurrency 16) took %.2fs, %.2fx the plain publisher's time",
		listing.Seconds(), listing.Seconds()/plain.Seconds())
	b.Logf("the floor of any first sync, reading the tasks and publishing a message for each as its page arrives with the plain publisher, keeping nothing, no process to start: %.2fs = %.2fx the plain publisher",
		floor.Seconds(), plain.Seconds()/floor.Seconds())
	b.Logf("the same with each message's bytes written to a file and fsynced before it is published (each page written as it arrives, one fsync for every page written meanwhile): %.2fs = %.2fx the plain publisher",
		durableFloor.Seconds(), plain.Seconds()/durableFloor.Seconds())
}

// lister lists the tenant with the relay's Reten client and its first sync's options.
func lister(url, key string) listFunc {
	return func(ctx context.Context, fn func(int)) error {
		c, err := reten.New(reten.Config{BaseURL: url, APIKey: reten.NewAPIKey(key), Timeout: 30 * time.Second})
		if err != nil {
			return err
		}
		_, err = c.StreamTasks(ctx, schema.ListOptions{PageSize: 100, Concurrency: 16}, func(_ int, ts []schema.Task) error {
			fn(len(ts))
			return nil
		})
		return err
	}
}

// durable wraps list so that a page's tasks are announced only once a message body for
// each is in the file at path and fsynced, as an outbox must be before it publishes. Each
// page is written as it arrives; one goroutine fsyncs over and over, and each fsync
// releases every page written before it (group commit).
func durable(list listFunc, path string, bodies [][]byte) listFunc {
	return func(ctx context.Context, fn func(int)) error {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		var (
			mu      sync.Mutex
			arrived = sync.NewCond(&mu)
			written int
			listed  bool
			buf     []byte
			i       int
		)
		listErr := make(chan error, 1)
		go func() {
			var writeErr error
			err := list(ctx, func(k int) {
				buf = buf[:0]
				for range k {
					buf = append(buf, bodies[i%len(bodies)]...)
					i++
				}
				if _, err := f.Write(buf); err != nil {
					writeErr = cmp.Or(writeErr, err)
				}
				mu.Lock()
				written += k
				arrived.Signal()
				mu.Unlock()
			})
			mu.Lock()
			listed = true
			arrived.Signal()
			mu.Unlock()
			listErr <- cmp.Or(err, writeErr)
		}()
		announced := 0
		for {
			mu.Lock()
			for written == announced && !listed {
				arrived.Wait()
			}
			k, done := written-announced, listed && written == announced
			mu.Unlock()
			if done {
				return <-listErr
			}
			if err := f.Sync(); err != nil {
				return err
			}
			fn(k)
			announced += k
		}
	}
}

// listOnly reads every task with the relay's Reten client and its first sync's options,
// doing nothing with them: the floor of any first sync through the API.
func listOnly(ctx context.Context, url, key string) (time.Duration, error) {
	c, err := reten.New(reten.Config{BaseURL: url, APIKey: reten.NewAPIKey(key), Timeout: 30 * time.Second})
	if err != nil {
		return 0, err
	}
	start := time.Now()
	_, err = c.StreamTasks(ctx, schema.ListOptions{PageSize: 100, Concurrency: 16}, func(int, []schema.Task) error { return nil })
	return time.Since(start), err
}

var cycleLine = regexp.MustCompile(`\{[^\n]*"message":"tasks cycle"\}`)

// startSimProcess runs the simulator with n tasks in a subprocess and returns it, its URL
// and key.
func startSimProcess(b *testing.B, n int) (p *benchProc, url, key string) {
	p = startBenchProc(b, fmt.Sprintf("RETEN_RELAY_AS_SIM=-listen 127.0.0.1:0 -tasks %d -churn 0 -seed 1", n))
	waitBench(b, 10*time.Minute, "the simulator", func() bool { return strings.Contains(p.out.String(), "RETEN_API_KEY=") })
	for _, line := range strings.Split(p.out.String(), "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "export RETEN_URL="); ok {
			url = v
		}
		if v, ok := strings.CutPrefix(line, "export RETEN_API_KEY="); ok {
			key = v
		}
	}
	return p, url, key
}

// benchProc is a subprocess of the test binary (see TestMain).
type benchProc struct {
	cmd *exec.Cmd
	out relaytest.LogBuffer
}

func startBenchProc(b *testing.B, env string) *benchProc {
	p := &benchProc{cmd: exec.Command(os.Args[0], "-test.run=^$")}
	p.cmd.Env = append(os.Environ(), env)
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	p.cmd.Stderr = &p.out
	if err := p.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			_, _ = p.out.Write(append(sc.Bytes(), '\n'))
		}
	}()
	b.Cleanup(p.kill)
	return p
}

func (p *benchProc) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	}
}

// heapMetrics reads the Go heap figures from the relay's /metrics.
func (p *benchProc) heapMetrics() string {
	m := regexp.MustCompile(`"listen":"([^"]+)"`).FindStringSubmatch(p.out.String())
	if m == nil {
		return "?"
	}
	resp, err := http.Get("http://" + m[1] + "/metrics")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out []string
	for _, line := range strings.Split(string(raw), "\n") {
		for _, name := range []string{"go_memstats_heap_inuse_bytes ", "go_memstats_heap_idle_bytes ", "go_memstats_heap_released_bytes ", "go_memstats_stack_inuse_bytes ", "go_memstats_sys_bytes ", "go_memstats_next_gc_bytes ", "go_memstats_heap_alloc_bytes "} {
			if strings.HasPrefix(line, name) {
				v, _ := strconv.ParseFloat(strings.TrimPrefix(line, name), 64)
				out = append(out, fmt.Sprintf("%s%.0fMB", strings.TrimSuffix(strings.TrimPrefix(name, "go_memstats_"), "_bytes "), v/(1<<20)))
			}
		}
	}
	return strings.Join(out, " ")
}

func (p *benchProc) count(s string) int { return strings.Count(p.out.String(), s) }

// cpu is the process's user+system CPU seconds so far.
func (p *benchProc) cpu() float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // USER_HZ
}

// sysAndFaults is the process's system CPU seconds and minor page faults so far.
func (p *benchProc) sysAndFaults() (float64, int) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	stime, _ := strconv.ParseFloat(f[12], 64)
	faults, _ := strconv.Atoi(f[7])
	return stime / 100, faults
}

// selfCPU is this process's user+system CPU seconds so far.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// status reads one kB field of /proc/PID/status (VmRSS, VmHWM).
func (p *benchProc) status(field string) float64 {
	raw, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb
		}
	}
	return 0
}

func waitBench(b *testing.B, timeout time.Duration, what string, cond func() bool) {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type natsBroker struct{ n *relaytest.NATS }

func (n *natsBroker) config() (string, string) {
	// Streams large enough to count every event (the default caps them at 1 GiB).
	return fmt.Sprintf("nats: {url: %q, streams: {max_bytes: 4GiB}}", n.n.URL()), `[{name: all, sink: nats, subject: "reten.tasks.{op}.{channel}"}]`
}

func (n *natsBroker) js() (jetstream.JetStream, *nats.Conn, error) {
	nc, err := nats.Connect(n.n.URL())
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	return js, nc, err
}

func (n *natsBroker) count(ctx context.Context) (int, error) {
	js, nc, err := n.js()
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	s, err := js.Stream(ctx, taskStream)
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, err
	}
	return int(info.State.Msgs), nil
}

func (n *natsBroker) sample(ctx context.Context, k int) ([][]byte, error) {
	js, nc, err := n.js()
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	c, err := js.OrderedConsumer(ctx, taskStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for range k {
		m, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			return nil, err
		}
		out = append(out, m.Data())
	}
	return out, nil
}

// plain publishes n messages (bodies in turn, unique ids, the relay's headers) with
// JetStream's async publisher into a stream of their own, and waits for every ack.
func (n *natsBroker) plain(ctx context.Context, bodies [][]byte, count int) (time.Duration, error) {
	return n.publish(ctx, "PLAIN", bodies, func(ctx context.Context, fn func(int)) error {
		fn(count)
		return nil
	})
}

// floor publishes a message for each listed task as its page arrives, into a stream of
// its own (the same ids in one stream would be dropped as duplicates).
func (n *natsBroker) floor(ctx context.Context, name string, bodies [][]byte, list listFunc) (time.Duration, error) {
	return n.publish(ctx, strings.ToUpper(name), bodies, list)
}

// publish publishes the messages list announces into a new stream and waits for every ack.
func (n *natsBroker) publish(ctx context.Context, stream string, bodies [][]byte, list listFunc) (time.Duration, error) {
	js, nc, err := n.js()
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	subject := strings.ToLower(stream) + ".tasks.created.SALESMAN"
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{strings.ToLower(stream) + ".>"}}); err != nil {
		return 0, err
	}
	pub, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return 0, err
	}
	start := time.Now()
	i := 0
	var pubErr error
	err = list(ctx, func(k int) {
		for ; k > 0 && pubErr == nil; k-- {
			m := nats.NewMsg(subject)
			m.Data = bodies[i%len(bodies)]
			m.Header.Set("Nats-Msg-Id", strconv.Itoa(i))
			for _, h := range []string{"ce_specversion", "ce_type", "ce_source", "ce_subject", "ce_id", "content-type"} {
				m.Header.Set(h, "x")
			}
			_, pubErr = pub.PublishMsgAsync(m, jetstream.WithStallWait(time.Minute))
			i++
		}
	})
	if err = cmp.Or(err, pubErr); err != nil {
		return 0, err
	}
	select {
	case <-pub.PublishAsyncComplete():
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return time.Since(start), nil
}

type kafkaBroker struct{ k *relaytest.Kafka }

func (k *kafkaBroker) config() (string, string) {
	return fmt.Sprintf("kafka: {brokers: [%q], create_topics: true}", k.k.Brokers()[0]), `[{name: all, sink: kafka, topic: reten-tasks}]`
}

func (k *kafkaBroker) count(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second) // the topic may not exist yet
	defer cancel()
	conn, err := kafka.DialContext(ctx, "tcp", k.k.Brokers()[0])
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	parts, err := conn.ReadPartitions("reten-tasks")
	if err != nil {
		return 0, err
	}
	total := 0
	for _, p := range parts {
		pc, err := kafka.DialLeader(ctx, "tcp", k.k.Brokers()[0], "reten-tasks", p.ID)
		if err != nil {
			return 0, err
		}
		last, err := pc.ReadLastOffset()
		_ = pc.Close()
		if err != nil {
			return 0, err
		}
		total += int(last)
	}
	return total, nil
}

func (k *kafkaBroker) sample(ctx context.Context, n int) ([][]byte, error) {
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: k.k.Brokers(), Topic: "reten-tasks", GroupID: "bench-sample", StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	var out [][]byte
	for range n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, m.Value)
	}
	return out, nil
}

// plain writes n records (bodies in turn, the relay's headers) with one call of a plain
// kafka-go Writer with acks=all.
func (k *kafkaBroker) plain(ctx context.Context, bodies [][]byte, count int) (time.Duration, error) {
	w := k.writer("plain")
	defer w.Close()
	msgs := make([]kafka.Message, count)
	for i := range msgs {
		msgs[i] = benchRecord(bodies, i)
	}
	// The topic exists once the first record is in; time the rest.
	if err := w.WriteMessages(ctx, msgs[0]); err != nil {
		return 0, err
	}
	start := time.Now()
	if err := w.WriteMessages(ctx, msgs[1:]...); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// floor writes a record for each listed task as its page arrives, with the same Writer,
// a call per thousand records, the calls at once.
func (k *kafkaBroker) floor(ctx context.Context, name string, bodies [][]byte, list listFunc) (time.Duration, error) {
	w := k.writer(name)
	defer w.Close()
	if err := w.WriteMessages(ctx, benchRecord(bodies, 0)); err != nil {
		return 0, err
	}
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	write := func(msgs []kafka.Message) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	var batch []kafka.Message
	i := 0
	err := list(ctx, func(k int) {
		for ; k > 0; k-- {
			batch = append(batch, benchRecord(bodies, i))
			i++
			if len(batch) == 1000 {
				write(batch)
				batch = nil
			}
		}
	})
	if len(batch) > 0 {
		write(batch)
	}
	wg.Wait()
	if err = errors.Join(append(errs, err)...); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

func (k *kafkaBroker) writer(topic string) *kafka.Writer {
	return &kafka.Writer{Addr: kafka.TCP(k.k.Brokers()...), Topic: topic, RequiredAcks: kafka.RequireAll,
		BatchSize: 1000, BatchTimeout: 5 * time.Millisecond, AllowAutoTopicCreation: true}
}

// benchRecord is record i of a plain publisher: bodies in turn, the relay's headers.
func benchRecord(bodies [][]byte, i int) kafka.Message {
	m := kafka.Message{Key: []byte(strconv.Itoa(i)), Value: bodies[i%len(bodies)]}
	for _, h := range []string{"ce_specversion", "ce_type", "ce_source", "ce_subject", "ce_id", "content-type"} {
		m.Headers = append(m.Headers, kafka.Header{Key: h, Value: []byte("x")})
	}
	return m
}
