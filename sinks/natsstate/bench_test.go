package natsstate_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/sinks/embeddednats"
	"github.com/reten/reten-relay/sinks/natsstate"
)

// BenchmarkStore_CommitAndAck is one cycle's state work for 100 changed tasks on a
// server that fsyncs every write: the commit (entries, published JSON, outbox records),
// then reading the outbox and acking it.
func BenchmarkStore_CommitAndAck(b *testing.B) {
	srv, err := embeddednats.Start(embeddednats.Options{Port: -1, StoreDir: b.TempDir(), SyncAlways: true})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown()
	ctx := context.Background()
	s, err := natsstate.Open(ctx, connect(b, srv.URL()), natsstate.Config{Bucket: "STATE", Replica: "a", LeaseTTL: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	if ok, err := s.Lease().TryAcquire(ctx); !ok || err != nil {
		b.Fatal(ok, err)
	}
	var commit, ack time.Duration
	for i := range b.N {
		var c schema.StateCommit
		for j := range 100 {
			id := fmt.Sprintf("task-%d-%d", i, j)
			c.Entries = append(c.Entries, schema.TaskEntryUpdate{ID: id, Entry: schema.TaskEntry{ChangeNo: 1}, Published: []byte(`{"id":"x","status":"PENDING"}`)})
			c.Events = append(c.Events, schema.OutboxEvent{Head: schema.EventHead{TaskID: id, EventID: id, Op: schema.OpCreated},
				Body: make([]byte, 1000), Targets: []schema.QueuedTarget{{Sink: "nats"}}})
		}
		t0 := time.Now()
		if err := s.Commit(ctx, c); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		qs, err := s.Outbox(ctx, "nats", nil, 1000)
		if err != nil || len(qs) != 100 {
			b.Fatal(len(qs), err)
		}
		pos := make([]schema.QueuePos, len(qs))
		for k, q := range qs {
			pos[k] = q.Pos
		}
		if err := s.Ack(ctx, "nats", pos); err != nil {
			b.Fatal(err)
		}
		commit += t1.Sub(t0)
		ack += time.Since(t1)
	}
	b.ReportMetric(float64(commit.Microseconds())/float64(b.N)/1000, "commit-ms")
	b.ReportMetric(float64(ack.Microseconds())/float64(b.N)/1000, "read+ack-ms")
}

// BenchmarkStore_LoadIndex reads a snapshot of 100,000 entries, as a replica taking over
// does before its first cycle.
func BenchmarkStore_LoadIndex(b *testing.B) {
	srv, err := embeddednats.Start(embeddednats.Options{Port: -1, StoreDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown()
	ctx := context.Background()
	s, err := natsstate.Open(ctx, connect(b, srv.URL()), natsstate.Config{Bucket: "STATE", Replica: "a", LeaseTTL: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	if ok, err := s.Lease().TryAcquire(ctx); !ok || err != nil {
		b.Fatal(ok, err)
	}
	const n = 100_000
	var c schema.StateCommit
	for i := range n {
		c.Entries = append(c.Entries, schema.TaskEntryUpdate{ID: fmt.Sprintf("%08x-0000-4000-8000-000000000000", i), Entry: schema.TaskEntry{ChangeNo: 1}, Published: []byte(`{"id":"x"}`)})
	}
	if err := s.Commit(ctx, c); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		got := 0
		if err := s.LoadIndex(ctx, func(string, schema.TaskEntry) { got++ }); err != nil || got != n {
			b.Fatal(got, err)
		}
	}
}
