package state

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/reten/reten-relay/relay/tasks"
)

// newEntry is a new task's entry with its published JSON.
func newEntry(id string, hash uint64) tasks.EntryUpdate {
	return tasks.EntryUpdate{ID: id, Entry: tasks.Entry{RawHash: hash, ChangeNo: 1}, Published: []byte(fmt.Sprintf(`{"id":%q,"v":%d}`, id, hash)), New: true}
}

func openStore(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func commitEntries(t *testing.T, s *Store, more bool, entries ...tasks.EntryUpdate) {
	t.Helper()
	if err := s.Commit(context.Background(), tasks.Commit{Entries: entries, More: more}); err != nil {
		t.Fatalf("commit: %v", err)
	}
}

// loadIndex returns the snapshot's ids in the order LoadIndex gives them, and their raw hashes.
func loadIndex(t *testing.T, s *Store) ([]string, map[string]uint64) {
	t.Helper()
	var ids []string
	hashes := map[string]uint64{}
	if err := s.LoadIndex(context.Background(), func(id string, e tasks.Entry) {
		ids = append(ids, id)
		hashes[id] = e.RawHash
	}); err != nil {
		t.Fatalf("load index: %v", err)
	}
	return ids, hashes
}

func runsLeft(t *testing.T, s *Store) bool {
	t.Helper()
	has, err := s.hasRuns()
	if err != nil {
		t.Fatal(err)
	}
	return has
}

// Chunks of new tasks wait in runs, read as if they were in the snapshot, across a
// restart; the next commit that is not such a chunk moves them into the snapshot bucket,
// after which it updates a task of theirs.
func TestStore_NewTasksOfChunksWaitInRunsUntilTheListingsLastCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tasks.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	commitEntries(t, s, true, newEntry("a", 1), newEntry("c", 3))
	commitEntries(t, s, true, newEntry("b", 2), newEntry("d", 4))
	if !runsLeft(t, s) {
		t.Fatal("no run after two chunks of new tasks")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path)
	ids, _ := loadIndex(t, s)
	if want := []string{"a", "b", "c", "d"}; !slices.Equal(ids, want) {
		t.Fatalf("index from the runs = %v, want %v in id order", ids, want)
	}
	pub, err := s.LoadPublished(context.Background(), []string{"a", "b", "c", "d", "x"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pub) != 4 || string(pub["d"]) != `{"id":"d","v":4}` {
		t.Fatalf("published JSON from the runs = %q", pub)
	}

	changed := tasks.EntryUpdate{ID: "b", Entry: tasks.Entry{RawHash: 20, ChangeNo: 2}, Published: []byte(`{"id":"b","v":20}`)}
	commitEntries(t, s, false, changed)
	if runsLeft(t, s) {
		t.Fatal("runs left after a commit without More")
	}
	ids, hashes := loadIndex(t, s)
	if want := []string{"a", "b", "c", "d"}; !slices.Equal(ids, want) || hashes["b"] != 20 || hashes["c"] != 3 {
		t.Fatalf("index after the merge = %v %v", ids, hashes)
	}
	if err := s.view(func(tx *bolt.Tx) error {
		for _, id := range ids {
			if tx.Bucket(bucketSnapshot).Get([]byte(id)) == nil {
				return fmt.Errorf("%s is not in the snapshot bucket", id)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	pub, err = s.LoadPublished(context.Background(), []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if string(pub["b"]) != `{"id":"b","v":20}` || string(pub["a"]) != `{"id":"a","v":1}` {
		t.Fatalf("published JSON after the merge = %q", pub)
	}
}

// A chunk that holds a known task merges the runs before it writes: the run's older entry
// must not come back over the newer one when the runs are merged later.
func TestStore_AChunkWithAKnownTaskMergesTheRunsFirst(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "tasks.db"))
	commitEntries(t, s, true, newEntry("a", 1), newEntry("b", 2))
	changed := tasks.EntryUpdate{ID: "a", Entry: tasks.Entry{RawHash: 10, ChangeNo: 2}, Published: []byte(`{"id":"a","v":10}`)}
	commitEntries(t, s, true, changed, newEntry("c", 3))
	commitEntries(t, s, false)
	if _, hashes := loadIndex(t, s); hashes["a"] != 10 || hashes["b"] != 2 || hashes["c"] != 3 {
		t.Fatalf("index = %v, want a's second version", hashes)
	}
}

// Runs are merged in id order across runs, a batch per transaction.
func TestStore_MergesRunsInBatches(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "tasks.db"))
	commitEntries(t, s, true, newEntry("b", 2), newEntry("e", 5), newEntry("g", 7))
	commitEntries(t, s, true, newEntry("a", 1), newEntry("f", 6))
	commitEntries(t, s, true, newEntry("c", 3), newEntry("d", 4))
	if err := s.mergeRuns(2); err != nil {
		t.Fatal(err)
	}
	if runsLeft(t, s) {
		t.Fatal("runs left after the merge")
	}
	var keys []string
	if err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSnapshot).ForEach(func(k, _ []byte) error { keys = append(keys, string(k)); return nil })
	}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b", "c", "d", "e", "f", "g"}; !slices.Equal(keys, want) {
		t.Fatalf("snapshot bucket = %v, want %v", keys, want)
	}
}

// A merge that stopped between two transactions left the ids it moved in both the
// snapshot bucket and the runs: the index has each once, and the next merge finishes.
func TestStore_IndexAfterAMergeThatStopped(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "tasks.db"))
	commitEntries(t, s, true, newEntry("a", 1), newEntry("c", 3))
	commitEntries(t, s, true, newEntry("b", 2), newEntry("d", 4))
	// What the first transaction of mergeRuns(2) commits.
	if err := s.update(func(tx *bolt.Tx) error {
		runs, err := readRuns(tx)
		if err != nil {
			return err
		}
		c, err := newRunCursor(runs, nil)
		if err != nil {
			return err
		}
		for range 2 {
			id, rec, err := c.next()
			if err != nil {
				return err
			}
			if err := tx.Bucket(bucketSnapshot).Put(id, rec); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if ids, _ := loadIndex(t, s); !slices.Equal(ids, []string{"a", "b", "c", "d"}) {
		t.Fatalf("index = %v, want each id once, in order", ids)
	}
	if err := s.MergeRuns(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ids, hashes := loadIndex(t, s); !slices.Equal(ids, []string{"a", "b", "c", "d"}) || hashes["d"] != 4 || runsLeft(t, s) {
		t.Fatalf("after the next merge: index %v %v, runs left %v", ids, hashes, runsLeft(t, s))
	}
}

// New tasks committed after the chunks, and a commit of none, go beside the runs: only
// MergeRuns, or a commit that needs them merged, moves the runs into the snapshot bucket.
func TestStore_NewTasksGoBesideTheRunsUntilMergeRuns(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, filepath.Join(t.TempDir(), "tasks.db"))
	commitEntries(t, s, true, newEntry("b", 2), newEntry("d", 4))
	commitEntries(t, s, false, newEntry("a", 1), newEntry("c", 3)) // the listing's last commit
	commitEntries(t, s, false)                                     // a cycle that changed nothing
	if !runsLeft(t, s) {
		t.Fatal("commits of new tasks only merged the runs")
	}
	ids, hashes := loadIndex(t, s)
	if want := []string{"a", "b", "c", "d"}; !slices.Equal(ids, want) || hashes["b"] != 2 || hashes["c"] != 3 {
		t.Fatalf("index beside the runs = %v %v, want %v", ids, hashes, want)
	}
	if err := s.MergeRuns(ctx); err != nil {
		t.Fatal(err)
	}
	if runsLeft(t, s) {
		t.Fatal("runs left after MergeRuns")
	}
	if ids, hashes = loadIndex(t, s); !slices.Equal(ids, []string{"a", "b", "c", "d"}) || hashes["d"] != 4 {
		t.Fatalf("index after MergeRuns = %v %v", ids, hashes)
	}
	if err := s.MergeRuns(ctx); err != nil { // nothing left: nothing to do
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.MergeRuns(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("MergeRuns with a cancelled context = %v", err)
	}
}
