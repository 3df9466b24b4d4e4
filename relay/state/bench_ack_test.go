package state_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"testing"

	"github.com/reten/reten-relay/relay/state"
	"github.com/reten/reten-relay/relay/tasks"
	"github.com/reten/reten-relay/schema"
)

// BenchmarkStore_AckFirstSync is the store's part of a first sync after the commits: the
// outbox of 100,000 created events (random task ids, each event its task's version) read
// in batches of 1,000 and removed in groups of 4,096, as the drain does. It reports the
// time per message.
func BenchmarkStore_AckFirstSync(b *testing.B) {
	const n, chunk, batch, group = 100_000, 10_000, 1000, 4096
	ctx := context.Background()
	ids := make([]string, n)
	for i, j := range rand.New(rand.NewPCG(1, 2)).Perm(n) {
		ids[i] = fmt.Sprintf("%08x-0000-4000-8000-%012x", j, j*7919)
	}
	for b.Loop() {
		b.StopTimer()
		s, err := state.Open(filepath.Join(b.TempDir(), "tasks.db"))
		if err != nil {
			b.Fatal(err)
		}
		for c := 0; c < n; c += chunk {
			part := append([]string(nil), ids[c:c+chunk]...)
			sort.Strings(part)
			var cm tasks.Commit
			for _, id := range part {
				task := fmt.Appendf(nil, `{"id":%q,"title":"a task of some length, like the ones Reten lists","status":"open"}`, id)
				body := append(append([]byte(`{"specversion":"1.0","data":{"op":"created","task":`), task...), `,"previous":null}}`...)
				cm.Entries = append(cm.Entries, tasks.EntryUpdate{ID: id, Entry: tasks.Entry{ChangeNo: 1}, Published: task})
				cm.Events = append(cm.Events, tasks.OutboxEvent{Head: tasks.EventHead{TaskID: id, EventID: id, Op: schema.OpCreated},
					Body: body, Targets: []tasks.QueuedTarget{{Route: "all", Sink: "nats", Destination: "reten.tasks.created.X"}}})
			}
			if err := s.Commit(ctx, cm); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		var after *tasks.QueuePos
		var pos []tasks.QueuePos
		for {
			qs, err := s.Outbox(ctx, "nats", after, batch)
			if err != nil {
				b.Fatal(err)
			}
			for _, q := range qs {
				pos = append(pos, q.Pos)
			}
			if len(pos) >= group || (len(qs) == 0 && len(pos) > 0) {
				if err := s.Ack(ctx, "nats", pos); err != nil {
					b.Fatal(err)
				}
				pos = pos[:0]
			}
			if len(qs) == 0 {
				break
			}
			after = &qs[len(qs)-1].Pos
		}
		b.StopTimer()
		if p, err := s.LoadPublished(ctx, ids[:1]); err != nil || len(p) != 1 {
			b.Fatalf("published after the acks = %v, %v", p, err)
		}
		_ = s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/msg")
}
