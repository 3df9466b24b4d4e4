package state

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/reten/reten-relay/relay/tasks"
	"github.com/reten/reten-relay/schema"
)

// ackSink removes every message queued for sink.
func ackSink(t *testing.T, s *Store, sink string) {
	t.Helper()
	ctx := context.Background()
	qs, err := s.Outbox(ctx, sink, nil, 100)
	if err != nil {
		t.Fatal(err)
	}
	var pos []tasks.QueuePos
	for _, q := range qs {
		pos = append(pos, q.Pos)
	}
	if err := s.Ack(ctx, sink, pos); err != nil {
		t.Fatal(err)
	}
}

// twoSinks is eventWith queued for sinks a and b.
func twoSinks(ev tasks.OutboxEvent) tasks.OutboxEvent {
	ev.Targets = []tasks.QueuedTarget{{Sink: "a", Destination: "d"}, {Sink: "b", Destination: "d"}}
	return ev
}

// An event queued for two sinks stays as its task's version once both confirmed it; a
// newer version committed while one sink still holds it makes it go with that sink's ack.
func TestStore_QueueRecordsSayWhetherTheirEventStays(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "tasks.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	commit := func(n int, op schema.Op, task, prev string) {
		t.Helper()
		err := s.Commit(ctx, tasks.Commit{
			Entries: []tasks.EntryUpdate{{ID: "x", Entry: tasks.Entry{ChangeNo: uint64(n)}, Published: []byte(task)}},
			Events:  []tasks.OutboxEvent{twoSinks(eventWith("x", "e"+task, op, task, prev))},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	check := func(when, want string, events int) {
		t.Helper()
		pub, err := s.LoadPublished(ctx, []string{"x"})
		if err != nil || string(pub["x"]) != want {
			t.Fatalf("%s: published = %q, %v; want %s", when, pub["x"], err, want)
		}
		if e := keys(t, s, bucketEvents); e != events {
			t.Fatalf("%s: %d events stored, want %d", when, e, events)
		}
	}
	v1, v2 := `{"id":"x","n":1}`, `{"id":"x","n":2}`
	commit(1, schema.OpCreated, v1, "")
	ackSink(t, s, "a")
	check("confirmed by a", v1, 1)
	ackSink(t, s, "b")
	check("confirmed by both", v1, 1)

	commit(2, schema.OpUpdated, v2, v1)
	check("updated", v2, 1) // v1's event was confirmed: it went at once
	ackSink(t, s, "a")
	v3 := `{"id":"x","n":3}`
	commit(3, schema.OpUpdated, v3, v2) // v2's event is still queued for b
	check("updated while queued", v3, 2)
	ackSink(t, s, "b")
	check("b confirmed both", v3, 1) // v2's event went; v3's is still queued for a
	ackSink(t, s, "a")
	check("all confirmed", v3, 1)
}

// Queue records written before their flags said what becomes of their event: Ack looks
// the task up in the snapshot and keeps the event that is its version.
func TestStore_AcksQueueRecordsOfOlderFiles(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "tasks.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v1, v2 := `{"id":"x","n":1}`, `{"id":"x","n":2}`
	for n, ev := range []tasks.OutboxEvent{eventWith("x", "e1", schema.OpCreated, v1, ""), eventWith("x", "e2", schema.OpUpdated, v2, v1)} {
		task := []byte(v1)
		if n == 1 {
			task = []byte(v2)
		}
		err := s.Commit(ctx, tasks.Commit{Entries: []tasks.EntryUpdate{{ID: "x", Entry: tasks.Entry{ChangeNo: uint64(n + 1)}, Published: task}},
			Events: []tasks.OutboxEvent{ev}})
		if err != nil {
			t.Fatal(err)
		}
	}
	// As an older version wrote them: a flag byte of 0 (no own body) and nothing else.
	err = s.update(func(tx *bolt.Tx) error {
		q := tx.Bucket(bucketQueues).Bucket([]byte("nats"))
		var kvs [][2][]byte
		err := q.ForEach(func(k, v []byte) error {
			kvs = append(kvs, [2][]byte{bytes.Clone(k), bytes.Clone(v)})
			return nil
		})
		if err != nil {
			return err
		}
		for _, kv := range kvs {
			i, err := flagsAt(kv[1])
			if err != nil {
				return err
			}
			kv[1][i] = 0
			if err := q.Put(kv[0], kv[1]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ackAll(t, s)
	pub, err := s.LoadPublished(ctx, []string{"x"})
	if err != nil || string(pub["x"]) != v2 {
		t.Fatalf("published = %q, %v; want %s", pub["x"], err, v2)
	}
	if e := keys(t, s, bucketEvents); e != 1 {
		t.Fatalf("%d events stored, want e2 alone", e)
	}
}
