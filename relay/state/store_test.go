package state_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/reten/reten-relay/relay/state"
	"github.com/reten/reten-relay/relay/tasks"
	"github.com/reten/reten-relay/schema"
)

func open(t *testing.T, path string) *state.Store {
	t.Helper()
	s, err := state.Open(path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func index(t *testing.T, s *state.Store) map[string]tasks.Entry {
	t.Helper()
	m := map[string]tasks.Entry{}
	if err := s.LoadIndex(context.Background(), func(id string, e tasks.Entry) { m[id] = e }); err != nil {
		t.Fatalf("load index: %v", err)
	}
	return m
}

func TestStore_CommitSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "tasks.db") // the directory is created
	s := open(t, path)
	live := tasks.Entry{RawHash: 7, Content: 12, ChangeNo: 3, Suspect: true}
	gone := tasks.Entry{ChangeNo: 9, Deleted: true, DeletedAt: 1700000000}
	err := s.Commit(ctx, tasks.Commit{
		Entries: []tasks.EntryUpdate{{ID: "a", Entry: live, Published: []byte(`{"id":"a"}`)}, {ID: "b", Entry: gone}},
		Events: []tasks.OutboxEvent{{
			Head: tasks.EventHead{TaskID: "a", EventID: "e1", Op: schema.OpUpdated, Source: "src"}, Body: []byte(`{"x":1}`),
			Targets: []tasks.QueuedTarget{{Route: "r", Sink: "nats", Destination: "d", Key: "k"}},
		}},
		Meta: tasks.Meta{Synced: true, GuardCycles: 2},
	})
	if err != nil {
		t.Fatalf("commit: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path)
	if got := index(t, s); got["a"] != live || got["b"] != gone || len(got) != 2 {
		t.Fatalf("index = %+v", got)
	}
	pub, err := s.LoadPublished(ctx, []string{"a", "b", "nope"})
	if err != nil || string(pub["a"]) != `{"id":"a"}` || len(pub) != 1 {
		t.Fatalf("published = %q, %v", pub, err)
	}
	if m, err := s.LoadMeta(ctx); err != nil || m != (tasks.Meta{Synced: true, GuardCycles: 2}) {
		t.Fatalf("meta = %+v, %v", m, err)
	}
	out, err := s.Outbox(ctx, "nats", nil, 10)
	want := tasks.QueuedTarget{Route: "r", Sink: "nats", Destination: "d", Key: "k"}
	if err != nil || len(out) != 1 || out[0].Head != (tasks.EventHead{TaskID: "a", EventID: "e1", Op: schema.OpUpdated, Source: "src"}) ||
		string(out[0].Body) != `{"x":1}` || out[0].Pos.Seq == 0 || out[0].Target.Route != want.Route ||
		out[0].Target.Destination != want.Destination || out[0].Target.Key != want.Key || out[0].Target.Body != nil {
		t.Fatalf("outbox = %+v, %v", out, err)
	}
}

func TestStore_TombstoneDropsPublishedJSON(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "tasks.db"))
	_ = s.Commit(ctx, tasks.Commit{Entries: []tasks.EntryUpdate{{ID: "a", Entry: tasks.Entry{ChangeNo: 1}, Published: []byte(`{}`)}}})
	_ = s.Commit(ctx, tasks.Commit{Entries: []tasks.EntryUpdate{{ID: "a", Entry: tasks.Entry{ChangeNo: 2, Deleted: true}}}})
	if pub, _ := s.LoadPublished(ctx, []string{"a"}); len(pub) != 0 {
		t.Fatalf("tombstone kept published JSON %q", pub)
	}
	if e := index(t, s)["a"]; !e.Deleted || e.ChangeNo != 2 {
		t.Fatalf("tombstone = %+v", e)
	}
}

func TestStore_QueuesPerSinkAreOrderedAndAckRemoves(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "tasks.db"))
	for _, batch := range [][]string{{"1", "2", "3"}, {"4", "5"}} {
		var evs []tasks.OutboxEvent
		for _, id := range batch {
			evs = append(evs, tasks.OutboxEvent{
				Head: tasks.EventHead{TaskID: "t", EventID: id, Op: schema.OpCreated}, Body: []byte(id),
				Targets: []tasks.QueuedTarget{{Sink: "nats", Destination: "n"}, {Sink: "kafka", Destination: "k", Body: []byte("trim" + id)}},
			})
		}
		if err := s.Commit(ctx, tasks.Commit{Events: evs}); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(qs []tasks.Queued) (s string) {
		for _, q := range qs {
			s += string(q.Body)
		}
		return s
	}
	first, _ := s.Outbox(ctx, "nats", nil, 2)
	if ids(first) != "12" {
		t.Fatalf("first two = %q", ids(first))
	}
	if next, _ := s.Outbox(ctx, "nats", &first[1].Pos, 10); ids(next) != "345" {
		t.Fatalf("after the first two = %q", ids(next))
	}
	if err := s.Ack(ctx, "nats", []tasks.QueuePos{first[0].Pos, first[1].Pos, first[0].Pos}); err != nil {
		t.Fatalf("ack: %v", err)
	}
	if rest, _ := s.Outbox(ctx, "nats", nil, 10); ids(rest) != "345" {
		t.Fatalf("after ack nats queue = %q, want 345", ids(rest))
	}
	// Kafka's queue is untouched, trimmed bodies included, and still finds its events.
	k, err := s.Outbox(ctx, "kafka", nil, 10)
	if err != nil || ids(k) != "trim1trim2trim3trim4trim5" {
		t.Fatalf("kafka queue = %q, %v", ids(k), err)
	}
	if n, err := s.Pending(ctx); err != nil || n["nats"] != 3 || n["kafka"] != 5 {
		t.Fatalf("pending = %v, %v", n, err)
	}
	var all []tasks.QueuePos
	for _, q := range k {
		all = append(all, q.Pos)
	}
	if err := s.Ack(ctx, "kafka", all); err != nil {
		t.Fatal(err)
	}
	if rest, err := s.Outbox(ctx, "nats", nil, 10); err != nil || ids(rest) != "345" {
		t.Fatalf("nats queue after kafka's ack = %q, %v (events still queued must stay)", ids(rest), err)
	}
}

func TestStore_CancelledCommitWritesNothing(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "tasks.db"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Commit(ctx, tasks.Commit{Entries: []tasks.EntryUpdate{{ID: "a"}}, Meta: tasks.Meta{Synced: true}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if got := index(t, s); len(got) != 0 {
		t.Fatalf("index = %+v, want empty", got)
	}
}

func TestStore_SecondOpenOfTheSameFileFailsClearly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tasks.db")
	open(t, path)
	_, err := state.Open(path)
	if !errors.Is(err, state.ErrLocked) {
		t.Fatalf("second open err = %v, want ErrLocked", err)
	}
}

func TestStore_CompactsWhenMostlyFree(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tasks.db")
	s := open(t, path)
	body := bytes.Repeat([]byte("x"), 2000)
	var evs []tasks.OutboxEvent
	for i := range 30_000 { // ~90 MB in 64 KB pages: a compacted file is about 16 MB (bbolt's growth step)
		evs = append(evs, tasks.OutboxEvent{Head: tasks.EventHead{TaskID: fmt.Sprint(i), EventID: fmt.Sprint(i), Op: schema.OpCreated},
			Body: body, Targets: []tasks.QueuedTarget{{Sink: "nats", Destination: "d"}}})
	}
	keep := tasks.EntryUpdate{ID: "kept", Entry: tasks.Entry{ChangeNo: 4}, Published: []byte(`{"id":"kept"}`)}
	if err := s.Commit(ctx, tasks.Commit{Entries: []tasks.EntryUpdate{keep}, Events: evs, Meta: tasks.Meta{Synced: true}}); err != nil {
		t.Fatal(err)
	}
	if before, _, err := s.CompactIfMostlyFree(ctx); err != nil || before != 0 {
		t.Fatalf("compacted a full file: %d, %v", before, err)
	}
	qs, _ := s.Outbox(ctx, "nats", nil, len(evs))
	var pos []tasks.QueuePos
	for _, q := range qs {
		pos = append(pos, q.Pos)
	}
	if err := s.Ack(ctx, "nats", pos); err != nil {
		t.Fatal(err)
	}
	before, after, err := s.CompactIfMostlyFree(ctx)
	if err != nil || before < 40<<20 || after > before/4 {
		t.Fatalf("compaction: %d → %d bytes, %v; want it to shrink a mostly free file", before, after, err)
	}
	if got := index(t, s)["kept"]; got.ChangeNo != 4 {
		t.Fatalf("entry after compaction = %+v", got)
	}
	if m, err := s.LoadMeta(ctx); err != nil || !m.Synced {
		t.Fatalf("meta after compaction = %+v, %v", m, err)
	}
	if err := s.Commit(ctx, tasks.Commit{Events: evs[:1]}); err != nil {
		t.Fatalf("commit after compaction: %v", err)
	}
}
