package state_test

import (
	"context"
	"errors"
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
	live := tasks.Entry{RawHash: 7, ContentHash: [32]byte{1, 2}, ChangeNo: 3, Suspect: true}
	gone := tasks.Entry{ChangeNo: 9, Deleted: true}
	err := s.Commit(ctx, tasks.Commit{
		Entries: []tasks.EntryUpdate{{ID: "a", Entry: live, Published: []byte(`{"id":"a"}`)}, {ID: "b", Entry: gone}},
		Events:  []tasks.OutboxEvent{{TaskID: "a", EventID: "e1", Op: schema.OpUpdated, Body: []byte(`{"x":1}`)}},
		Meta:    tasks.Meta{Synced: true, GuardCycles: 2},
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
	out, err := s.Outbox(ctx, 10)
	if err != nil || len(out) != 1 || out[0].EventID != "e1" || out[0].TaskID != "a" || out[0].Op != schema.OpUpdated || string(out[0].Body) != `{"x":1}` || out[0].Seq == 0 {
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

func TestStore_OutboxIsOrderedAndAckRemoves(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "tasks.db"))
	for _, batch := range [][]string{{"1", "2", "3"}, {"4", "5"}} {
		var evs []tasks.OutboxEvent
		for _, id := range batch {
			evs = append(evs, tasks.OutboxEvent{TaskID: "t", EventID: id, Op: schema.OpCreated, Body: []byte(id)})
		}
		if err := s.Commit(ctx, tasks.Commit{Events: evs}); err != nil {
			t.Fatal(err)
		}
	}
	first, _ := s.Outbox(ctx, 2)
	if len(first) != 2 || first[0].EventID != "1" || first[1].EventID != "2" {
		t.Fatalf("first two = %+v", first)
	}
	if err := s.Ack(ctx, []uint64{first[0].Seq, first[1].Seq, first[0].Seq}); err != nil {
		t.Fatalf("ack: %v", err)
	}
	rest, _ := s.Outbox(ctx, 10)
	var ids string
	for _, e := range rest {
		ids += e.EventID
	}
	if ids != "345" {
		t.Fatalf("after ack outbox = %q, want 345", ids)
	}
	if n, err := s.OutboxLen(ctx); err != nil || n != 3 {
		t.Fatalf("outbox len = %d, %v", n, err)
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
