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

	// A delete goes once both sinks confirmed it, not when the first did.
	err = s.Commit(ctx, tasks.Commit{
		Entries: []tasks.EntryUpdate{{ID: "x", Entry: tasks.Entry{ChangeNo: 4, Deleted: true}}},
		Events:  []tasks.OutboxEvent{twoSinks(eventWith("x", "e4", schema.OpDeleted, "null", v3))},
	})
	if err != nil {
		t.Fatal(err)
	}
	check("deleted", "", 1)
	ackSink(t, s, "a")
	check("delete confirmed by a", "", 1)
	if qs, err := s.Outbox(ctx, "b", nil, 10); err != nil || len(qs) != 1 || qs[0].Head.EventID != "e4" {
		t.Fatalf("outbox of b after a confirmed = %+v, %v", qs, err)
	}
	ackSink(t, s, "b")
	check("delete confirmed by both", "", 0)
}

// Queue records written before their flags said what becomes of their event, and
// event records that begin with the event's head: Outbox reads them, and Ack looks the
// task up in the snapshot and keeps the event that is its version.
func TestStore_AcksQueueRecordsOfOlderFiles(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "tasks.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v1, v2 := `{"id":"x","n":1}`, `{"id":"x","n":2}`
	evs := []tasks.OutboxEvent{eventWith("x", "e1", schema.OpCreated, v1, ""), eventWith("x", "e2", schema.OpUpdated, v2, v1)}
	// As an older version wrote them: x's version is in e2, both events are queued.
	err = s.update(func(tx *bolt.Tx) error {
		q, err := tx.Bucket(bucketQueues).CreateBucketIfNotExists([]byte("nats"))
		if err != nil {
			return err
		}
		for i, ev := range evs {
			h := ev.Head
			rec := append(appendStrings(nil, h.TaskID, h.EventID, string(h.Op), h.Source), ev.Body...)
			if err := tx.Bucket(bucketEvents).Put(seqKey(uint64(i+1)), rec); err != nil {
				return err
			}
			qrec := append(appendStrings(nil, "", "d", ""), 0)
			if i == 1 { // trimmed for its sink: its own body
				qrec = append(append(qrec[:len(qrec)-1], 1), `{"trimmed":true}`...)
			}
			if err := q.Put(posKey(tasks.QueuePos{Seq: uint64(i + 1)}), qrec); err != nil {
				return err
			}
			if i == 1 {
				off := bytes.Index(rec, []byte(v2))
				ref := verRef{seq: 2, inEvent: true, off: uint32(off), n: uint32(len(v2))}
				if err := tx.Bucket(bucketSnapshot).Put([]byte("x"), encodeSnap(tasks.Entry{ChangeNo: 2}, ref)); err != nil {
					return err
				}
			}
		}
		return tx.Bucket(bucketEvents).SetSequence(uint64(len(evs)))
	})
	if err != nil {
		t.Fatal(err)
	}
	qs, err := s.Outbox(ctx, "nats", nil, 10)
	if err != nil || len(qs) != 2 || qs[0].Head != evs[0].Head || string(qs[0].Body) != string(evs[0].Body) ||
		qs[1].Head != evs[1].Head || string(qs[1].Body) != `{"trimmed":true}` {
		t.Fatalf("outbox of an older file = %+v, %v", qs, err)
	}
	ackSink(t, s, "nats")
	pub, err := s.LoadPublished(ctx, []string{"x"})
	if err != nil || string(pub["x"]) != v2 {
		t.Fatalf("published = %q, %v; want %s", pub["x"], err, v2)
	}
	if e := keys(t, s, bucketEvents); e != 1 {
		t.Fatalf("%d events stored, want e2 alone", e)
	}
}

// taskIn finds the task's JSON in the body: from the capacities when it is a slice of the
// body, by search otherwise, and not at all when the body does not hold it.
func TestTaskIn_SliceOfTheBodyOrSearched(t *testing.T) {
	task := `{"id":"x","n":1}`
	ev := eventWith("x", "e1", schema.OpCreated, task, "")
	at := bytes.Index(ev.Body, []byte(task))
	for name, tc := range map[string]struct {
		task []byte
		ok   bool
	}{
		"slice of the body": {ev.Body[at : at+len(task)], true},
		"a copy":            {[]byte(task), true},
		"other bytes":       {[]byte(`{"id":"y"}`), false},
	} {
		off, n, ok := taskIn(ev, tc.task)
		if ok != tc.ok || ok && (int(off) != at || int(n) != len(task)) {
			t.Errorf("%s: taskIn = %d, %d, %v; want %d, %d, %v", name, off, n, ok, at, len(task), tc.ok)
		}
	}
}
