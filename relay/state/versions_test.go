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

func TestEntrySize_IsSchemaEncoding(t *testing.T) {
	if n := len(schema.AppendEntry(nil, tasks.Entry{})); n != entrySize {
		t.Fatalf("schema.AppendEntry writes %d bytes, entrySize is %d", n, entrySize)
	}
}

// A file written before bucket versions: its snapshot records carry no version and the
// JSON sits in bucket published under the task id. It is still read, and a new version
// replaces it.
func TestStore_ReadsAndReplacesPublishedJSONOfOlderFiles(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tasks.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	err = s.update(func(tx *bolt.Tx) error {
		for _, id := range []string{"a", "b"} {
			if err := tx.Bucket(bucketSnapshot).Put([]byte(id), schema.AppendEntry(nil, tasks.Entry{ChangeNo: 1})); err != nil {
				return err
			}
			if err := tx.Bucket(bucketPublished).Put([]byte(id), []byte(`{"id":"`+id+`","v":0}`)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := s.LoadPublished(ctx, []string{"a", "b"})
	if err != nil || string(pub["a"]) != `{"id":"a","v":0}` || string(pub["b"]) != `{"id":"b","v":0}` {
		t.Fatalf("published of an older file = %q, %v", pub, err)
	}
	for v := 1; v <= 2; v++ {
		err = s.Commit(ctx, tasks.Commit{Entries: []tasks.EntryUpdate{
			{ID: "a", Entry: tasks.Entry{ChangeNo: uint64(1 + v)}, Published: []byte(`{"id":"a","v":` + string(rune('0'+v)) + `}`)},
			{ID: "b", Entry: tasks.Entry{ChangeNo: 1, Suspect: v == 1}}, // no new JSON: keeps its old one
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	pub, err = s.LoadPublished(ctx, []string{"a", "b"})
	if err != nil || string(pub["a"]) != `{"id":"a","v":2}` || string(pub["b"]) != `{"id":"b","v":0}` {
		t.Fatalf("published after two commits = %q, %v", pub, err)
	}
	err = s.view(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketPublished).Get([]byte("a")); v != nil {
			t.Errorf("the older JSON of a is still stored: %q", v)
		}
		if n := tx.Bucket(bucketVersions).Stats().KeyN; n != 1 {
			t.Errorf("%d versions stored, want a's latest only", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, tasks.Commit{Entries: []tasks.EntryUpdate{{ID: "a", Entry: tasks.Entry{ChangeNo: 4, Deleted: true}}}, Drop: []string{"b"}}); err != nil {
		t.Fatal(err)
	}
	err = s.view(func(tx *bolt.Tx) error {
		if n := tx.Bucket(bucketVersions).Stats().KeyN + tx.Bucket(bucketPublished).Stats().KeyN; n != 0 {
			t.Errorf("%d published JSONs left after a delete and a drop", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
}

// eventWith is an event of task id whose body holds task (and previous) as the tasks
// pipeline encodes them.
func eventWith(id, evID string, op schema.Op, task, previous string) tasks.OutboxEvent {
	if previous == "" {
		previous = "null"
	}
	body := `{"specversion":"1.0","id":"` + evID + `","subject":"` + id + `","data":{"op":"` + string(op) + `","task":` + task + `,"previous":` + previous + `}}`
	return tasks.OutboxEvent{Head: tasks.EventHead{TaskID: id, EventID: evID, Op: op, Source: "s"}, Body: []byte(body),
		Targets: []tasks.QueuedTarget{{Sink: "nats", Destination: "d"}}}
}

func keys(t *testing.T, s *Store, bucket []byte) int {
	t.Helper()
	n := 0
	if err := s.view(func(tx *bolt.Tx) error { n = tx.Bucket(bucket).Stats().KeyN; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// A task's JSON is stored once: the event that carries it stays, after its sink confirmed
// it, as the task's version until a newer one replaces it.
func TestStore_PublishedJSONLivesInItsEvent(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "tasks.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v1 := `{"id":"a","n":1}`
	if err := s.Commit(ctx, tasks.Commit{
		Entries: []tasks.EntryUpdate{{ID: "a", Entry: tasks.Entry{ChangeNo: 1}, Published: []byte(v1)}},
		Events:  []tasks.OutboxEvent{eventWith("a", "e1", schema.OpCreated, v1, "")},
	}); err != nil {
		t.Fatal(err)
	}
	check := func(when, want string, events, versions int) {
		t.Helper()
		pub, err := s.LoadPublished(ctx, []string{"a"})
		if err != nil || string(pub["a"]) != want {
			t.Fatalf("%s: published = %q, %v; want %s", when, pub["a"], err, want)
		}
		if e, v := keys(t, s, bucketEvents), keys(t, s, bucketVersions); e != events || v != versions {
			t.Fatalf("%s: %d events and %d versions stored, want %d and %d", when, e, v, events, versions)
		}
	}
	check("committed", v1, 1, 0)
	ackSink(t, s, "nats")
	check("confirmed", v1, 1, 0)

	// An update while the created event is confirmed: the created event goes at once.
	v2 := `{"id":"a","n":2}`
	if err := s.Commit(ctx, tasks.Commit{
		Entries: []tasks.EntryUpdate{{ID: "a", Entry: tasks.Entry{ChangeNo: 2}, Published: []byte(v2)}},
		Events:  []tasks.OutboxEvent{eventWith("a", "e2", schema.OpUpdated, v2, v1)},
	}); err != nil {
		t.Fatal(err)
	}
	check("updated", v2, 1, 0)
	// Another update while e2 is queued: e2 stays for its sink, then goes.
	v3 := `{"id":"a","n":3}`
	if err := s.Commit(ctx, tasks.Commit{
		Entries: []tasks.EntryUpdate{{ID: "a", Entry: tasks.Entry{ChangeNo: 3}, Published: []byte(v3)}},
		Events:  []tasks.OutboxEvent{eventWith("a", "e3", schema.OpUpdated, v3, v2)},
	}); err != nil {
		t.Fatal(err)
	}
	check("updated twice", v3, 2, 0)
	ackSink(t, s, "nats")
	check("both confirmed", v3, 1, 0)

	// An event much larger than its task gives the JSON to versions once confirmed.
	v4 := `{"id":"a","n":4}`
	big := `{"id":"a","notes":"` + string(bytes.Repeat([]byte("x"), 2000)) + `"}`
	if err := s.Commit(ctx, tasks.Commit{
		Entries: []tasks.EntryUpdate{{ID: "a", Entry: tasks.Entry{ChangeNo: 4}, Published: []byte(v4)}},
		Events:  []tasks.OutboxEvent{eventWith("a", "e4", schema.OpUpdated, v4, big)},
	}); err != nil {
		t.Fatal(err)
	}
	ackSink(t, s, "nats")
	check("large event confirmed", v4, 0, 1)

	if err := s.Commit(ctx, tasks.Commit{
		Entries: []tasks.EntryUpdate{{ID: "a", Entry: tasks.Entry{ChangeNo: 5, Deleted: true}}},
		Events:  []tasks.OutboxEvent{eventWith("a", "e5", schema.OpDeleted, "null", v4)},
	}); err != nil {
		t.Fatal(err)
	}
	ackSink(t, s, "nats")
	check("deleted", "", 0, 0)
}

// A file created with bbolt's default 4 KB pages (before pageSize) opens with its own
// page size, and its tasks and outbox work as before.
func TestStore_KeepsThePageSizeOfOlderFiles(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tasks.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{PageSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.db.Info().PageSize; got != 4096 {
		t.Fatalf("page size of an older file = %d, want 4096", got)
	}
	ev := tasks.OutboxEvent{Head: tasks.EventHead{TaskID: "a", EventID: "e1", Op: schema.OpCreated},
		Body: []byte(`{"data":{"op":"created","task":{"id":"a"}}}`), Targets: []tasks.QueuedTarget{{Sink: "nats", Destination: "d"}}}
	err = s.Commit(ctx, tasks.Commit{Entries: []tasks.EntryUpdate{{ID: "a", Entry: tasks.Entry{ChangeNo: 1}, Published: []byte(`{"id":"a"}`)}},
		Events: []tasks.OutboxEvent{ev}})
	if err != nil {
		t.Fatal(err)
	}
	qs, err := s.Outbox(ctx, "nats", nil, 10)
	if err != nil || len(qs) != 1 || string(qs[0].Body) != string(ev.Body) {
		t.Fatalf("outbox of an older file = %+v, %v", qs, err)
	}
	pub, err := s.LoadPublished(ctx, []string{"a"})
	if err != nil || string(pub["a"]) != `{"id":"a"}` {
		t.Fatalf("published of an older file = %q, %v", pub, err)
	}
}

// A new file gets pageSize pages.
func TestStore_NewFilesUseLargePages(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "tasks.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.db.Info().PageSize; got != pageSize {
		t.Fatalf("page size of a new file = %d, want %d", got, pageSize)
	}
}
