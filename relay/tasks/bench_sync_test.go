package tasks_test

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/reten/reten-relay/relay"
	"github.com/reten/reten-relay/relay/routing"
	"github.com/reten/reten-relay/relay/state"
	"github.com/reten/reten-relay/relay/tasks"
	"github.com/reten/reten-relay/schema"
)

// BenchmarkFirstSync is the write path of a first sync in one process: 100,000 ~1 KB tasks
// listed in random id order (as Reten's UUIDs come), diffed, routed by the shipped route
// ("reten.tasks.{op}.{channel}"), committed to bbolt with their outbox, published to a
// sink that confirms at once and removed from the outbox. It reports ns and bytes
// allocated per task and the state file's size.
func BenchmarkFirstSync(b *testing.B) {
	const n = 100_000
	lister := &staticLister{tasks: make([]schema.Task, n)}
	for i, j := range rand.New(rand.NewPCG(1, 2)).Perm(n) {
		lister.tasks[i] = benchTask(j, 0)
	}
	router, err := routing.New([]routing.Route{{Name: "all", Sink: "nats", Template: "reten.tasks.{op}.{channel}"}})
	if err != nil {
		b.Fatal(err)
	}
	var size int64
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		path := filepath.Join(b.TempDir(), "tasks.db")
		st, err := state.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		sink := &instantSink{}
		p, err := tasks.New(tasks.Config{
			Source: "https://api.reten.test", Lister: lister, Store: st, EmitInitial: true,
			Router: router, Sinks: map[string]relay.Sink{"nats": sink},
		})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		before := processCPU()
		rep, err := p.Cycle(context.Background())
		if err != nil || rep.Created != n || sink.n != n {
			b.Fatalf("cycle: %v, report %+v, published %d", err, rep, sink.n)
		}
		cpu += processCPU() - before
		b.StopTimer()
		if fi, err := os.Stat(path); err == nil {
			size = fi.Size()
		}
		_ = st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/task")
	b.ReportMetric(float64(size)/(1<<20), "state_MB")
	// CPU time, which other processes on the machine do not distort as they do ns/op.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/n, "cpu_ns/task")
}

// processCPU is the user and system CPU time of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
