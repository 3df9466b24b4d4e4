package state

import (
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
