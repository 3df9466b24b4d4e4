// Package state is the durable state of the tasks pipeline on bbolt: the snapshot of every
// task seen, the last published JSON of each live task, the outbox of events waiting for
// their sinks (the events once, and one queue of routed messages per sink), and the
// poller's bookkeeping. *Store satisfies tasks.StateStore.
//
// Only the snapshot is keyed by task id. A large listing commits its tasks in chunks of
// random ids, and every chunk rewrites the leaf pages it touches: so the bulky records,
// the events and the published JSON, are appended under sequence numbers, and a snapshot
// record points at its task's version (verRef). The version is the event that published
// it, kept after its sinks confirmed it, or a record of bucket versions (a task listed
// without an event, or whose event also carries a large previous version). A first sync
// then writes each task's JSON once, in order, whatever the order of the ids. The snapshot
// records of a chunk's new tasks wait in sorted runs until the listing's last commit
// merges them (see runs.go), so the snapshot's leaves are written once too.
//
// Every Commit and Ack is one bbolt transaction, fsynced before it returns (NoSync is never
// turned on), so a crash leaves either all of a cycle's changes or none of them. (A Commit
// that merges runs first does so in transactions of their own, which change where records
// are, not what they say.)
package state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/reten/reten-relay/relay/tasks"
)

// LockTimeout is how long Open waits for the file lock another process holds.
const LockTimeout = 2 * time.Second

// initialMmapSize is bbolt's first memory mapping: room for ~100k tasks and their outbox.
const initialMmapSize = 1 << 30

// pageSize is the page size of a new state file (a file keeps the size it was created
// with). A first sync writes ~1.4 KB per event: in 4 KB pages two fit a leaf, so bbolt
// split, allocated and wrote a page (and a freelist entry and a branch key) per two
// events. 16 KB pages take BenchmarkFirstSync from 18.4 to 14.2-15.4 CPU-us per task
// (64 KB: 13.5-15.0). Larger pages cost memory where a commit rewrites the snapshot's
// random leaves: every chunk of a 1,000,000-task first sync dirties most of them, and
// with 64 KB pages its peak RSS rose from 734 MB to 933 MB (16 KB: 877 MB), too close
// to the 1 GB it must stay under.
const pageSize = 16 << 10

// ErrLocked: another process (most likely another reten-relay) has the state file open.
var ErrLocked = errors.New("state file is locked by another process")

// ErrCorrupt: the state file holds a record this version cannot read.
var ErrCorrupt = errors.New("state file holds an unreadable record")

var (
	bucketSnapshot  = []byte("snapshot")
	bucketPublished = []byte("published") // before versions: task id → published JSON
	bucketVersions  = []byte("versions")
	bucketEvents    = []byte("events")
	bucketQueues    = []byte("queues")
	bucketMeta      = []byte("meta")
	keyMeta         = []byte("poller")
)

// Store is the bbolt state store. Its methods are safe for concurrent use (bbolt
// serialises writers), though the Poller calls them one at a time.
type Store struct {
	mu sync.RWMutex // transactions hold it to read; compaction to swap db
	// commits serialises Commit and MergeRuns: a merge spans transactions, and a run
	// committed between two of them would be deleted unmerged.
	commits sync.Mutex
	db      *bolt.DB
	path    string
	recent  recentBodies
}

var _ tasks.StateStore = (*Store)(nil)

// Open opens or creates the state file at path (and its directory). It fails with ErrLocked
// after LockTimeout when another process has the file open.
func Open(path string) (*Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create state directory: %w", err)
		}
	}
	db, err := bolt.Open(path, 0o600, boltOptions())
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open state %s: %w (is another reten-relay running with the same tasks.state?)", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketSnapshot, bucketPublished, bucketVersions, bucketEvents, bucketQueues, bucketMeta, bucketRuns} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("initialise state %s: %w", path, err)
	}
	return &Store{db: db, path: path}, nil
}

func boltOptions() *bolt.Options {
	return &bolt.Options{
		Timeout:      LockTimeout,
		FreelistType: bolt.FreelistMapType,
		// Address space only: a large first mapping spares the remaps (each copies every
		// live node) while a big first sync grows the file.
		InitialMmapSize: initialMmapSize,
		PageSize:        pageSize,
	}
}

func (s *Store) view(fn func(*bolt.Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.db.View(fn)
}

// update runs fn in a write transaction and drops the mapping of the file (dropMapped)
// while it runs and after it: a transaction that rewrites random snapshot pages maps far
// more of the file than it reads, as each page fault maps the cached pages around it too
// (the kernel's fault-around, which MADV_RANDOM does not turn off), and bbolt reads every
// page it frees; a chunk of a million-task first sync mapped 300 MB.
func (s *Store) update(fn func(*bolt.Tx) error) error {
	s.mu.RLock() // bbolt serialises writers itself
	defer s.mu.RUnlock()
	db := s.db // compaction swaps it only under s.mu's write lock
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		dropWhile(db, stop)
	}()
	err := db.Update(fn)
	close(stop)
	wg.Wait()
	_ = db.View(func(tx *bolt.Tx) error { dropMapped(tx); return nil })
	return err
}

// dropInterval is how often a long write transaction's mapped pages are dropped.
const dropInterval = 20 * time.Millisecond

// dropWhile drops the mapping every dropInterval until stop is closed. It runs beside a
// write transaction, which is safe: each drop is a read transaction, and bbolt does not
// remap while one is open (the writer waits for it), and it covers only the pages that
// read transaction sees, all of them within the mapping.
func dropWhile(db *bolt.DB, stop <-chan struct{}) {
	t := time.NewTicker(dropInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			_ = db.View(func(tx *bolt.Tx) error { dropMapped(tx); return nil })
		}
	}
}

// Close closes the file and releases its lock. Closing twice is harmless.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close state %s: %w", s.path, err)
	}
	return nil
}

// Path is the file the store was opened from.
func (s *Store) Path() string { return s.path }

// LoadIndex calls fn for every snapshot entry, tombstones included, in id order.
func (s *Store) LoadIndex(ctx context.Context, fn func(id string, e tasks.Entry)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.view(func(tx *bolt.Tx) error {
		runs, err := readRuns(tx)
		if err != nil {
			return err
		}
		rc, err := newRunCursor(runs, nil)
		if err != nil {
			return err
		}
		emit := func(k, v []byte) error {
			e, _, err := decodeSnap(v)
			if err != nil {
				return fmt.Errorf("snapshot entry %q: %w", k, err)
			}
			fn(string(k), e)
			return nil
		}
		// The snapshot bucket and the runs: merged in id order. An id in both was being
		// merged when the relay stopped, and both records are the same.
		rk, rv, err := rc.next()
		if err != nil {
			return err
		}
		c := tx.Bucket(bucketSnapshot).Cursor()
		for k, v := c.First(); k != nil || rk != nil; {
			if rk == nil || k != nil && bytes.Compare(k, rk) <= 0 {
				if err := emit(k, v); err != nil {
					return err
				}
				if rk != nil && bytes.Equal(k, rk) {
					if rk, rv, err = rc.next(); err != nil {
						return err
					}
				}
				k, v = c.Next()
				continue
			}
			if err := emit(rk, rv); err != nil {
				return err
			}
			if rk, rv, err = rc.next(); err != nil {
				return err
			}
		}
		return nil
	})
}

// LoadPublished returns the last published JSON of each of ids that has one.
func (s *Store) LoadPublished(ctx context.Context, ids []string) (map[string][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(ids))
	err := s.view(func(tx *bolt.Tx) error {
		snap, err := newSnapshotView(tx)
		if err != nil {
			return err
		}
		vers, legacy := tx.Bucket(bucketVersions), tx.Bucket(bucketPublished)
		evs := tx.Bucket(bucketEvents)
		for _, id := range ids {
			sv, err := snap.get([]byte(id))
			if err != nil {
				return fmt.Errorf("snapshot entry %q: %w", id, err)
			}
			if sv == nil {
				continue
			}
			e, ref, err := decodeSnap(sv)
			if err != nil {
				return fmt.Errorf("snapshot entry %q: %w", id, err)
			}
			var v []byte
			switch {
			case e.Deleted:
			case ref.inEvent:
				rec := evs.Get(seqKey(ref.seq))
				if uint64(len(rec)) < uint64(ref.off)+uint64(ref.n) {
					return fmt.Errorf("snapshot entry %q names a missing event %d: %w", id, ref.seq, ErrCorrupt)
				}
				v = rec[ref.off : ref.off+ref.n]
			case ref.seq != 0:
				if v = vers.Get(seqKey(ref.seq)); v == nil {
					return fmt.Errorf("snapshot entry %q names a missing version %d: %w", id, ref.seq, ErrCorrupt)
				}
			default: // written before versions
				v = legacy.Get([]byte(id))
			}
			if v != nil {
				out[id] = append([]byte(nil), v...) // bbolt's bytes die with the transaction
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read published tasks: %w", err)
	}
	return out, nil
}

// LoadMeta returns the bookkeeping of the last Commit, or zero Meta.
func (s *Store) LoadMeta(ctx context.Context) (tasks.Meta, error) {
	if err := ctx.Err(); err != nil {
		return tasks.Meta{}, err
	}
	var m tasks.Meta
	err := s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get(keyMeta)
		if v == nil {
			return nil
		}
		var err error
		m, err = decodeMeta(v)
		return err
	})
	if err != nil {
		return tasks.Meta{}, fmt.Errorf("read state meta: %w", err)
	}
	return m, nil
}
