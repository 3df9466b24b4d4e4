package state

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/binary"
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"

	"github.com/reten/reten-relay/relay/tasks"
)

// Runs keep the snapshot entries of new tasks while a large listing is committed in chunks
// (tasks.Commit.More). Task ids are random, so every chunk put into the snapshot bucket
// rewrote most of its leaves: a 100,000-task first sync wrote the snapshot ~5 times over,
// a 1,000,000-task one ~50 times (3 GB). A chunk's new entries are written instead as one
// run, a single value sorted by id, and MergeRuns, once the relay is idle (the listing
// committed and its events published), moves every run into the snapshot in id order,
// each leaf written once. Merging in the listing's last commit held back the acks of its
// last chunk (a million tasks: seconds of merging on the first sync's tail).
//
// While runs exist, every commit since the first of them held only new tasks: the runs
// and the snapshot bucket do not hold the same id (but for the ids a merge had moved when
// the relay stopped, with the same record in both), and the snapshot of a task is in one
// of them. Look-ups read both (snapshotView, LoadIndex); a commit that writes known tasks
// or drops entries merges the runs first (mergeRuns).

var bucketRuns = []byte("runs")

// mergeBatch bounds the entries one merge transaction moves: a transaction holds every
// node it writes in memory until it commits, and a tenant may have a million tasks.
const mergeBatch = 100_000

// toRun reports whether c's entries go to a run: a chunk of a listing that goes on, of
// new tasks only, sorted by id as a Commit's entries are, that drops nothing.
func toRun(c tasks.Commit) bool {
	if !c.More || len(c.Drop) > 0 || len(c.Entries) == 0 {
		return false
	}
	for i, u := range c.Entries {
		if !u.New || i > 0 && c.Entries[i-1].ID >= u.ID {
			return false
		}
	}
	return true
}

// run is one chunk's new snapshot entries, sorted by id, in one value: a count, the
// offset of each entry, then each entry as uvarint-prefixed id and record.
type run struct {
	data []byte
	n    int
}

// runBuilder collects a run's entries, added in id order (toRun).
type runBuilder struct {
	ids  []string
	recs [][]byte
}

func (b *runBuilder) add(id string, rec []byte) {
	b.ids = append(b.ids, id)
	b.recs = append(b.recs, rec)
}

// encode returns the run's value.
func (b *runBuilder) encode() []byte {
	size := 4 + 4*len(b.ids)
	for i, id := range b.ids {
		size += 2*binary.MaxVarintLen32 + len(id) + len(b.recs[i])
	}
	out := make([]byte, 4+4*len(b.ids), size)
	binary.BigEndian.PutUint32(out, uint32(len(b.ids)))
	for i, id := range b.ids {
		binary.BigEndian.PutUint32(out[4+4*i:], uint32(len(out)))
		out = binary.AppendUvarint(out, uint64(len(id)))
		out = append(out, id...)
		out = binary.AppendUvarint(out, uint64(len(b.recs[i])))
		out = append(out, b.recs[i]...)
	}
	return out
}

func parseRun(v []byte) (run, error) {
	if len(v) < 4 {
		return run{}, fmt.Errorf("run of %d bytes: %w", len(v), ErrCorrupt)
	}
	n := int(binary.BigEndian.Uint32(v))
	if n > (len(v)-4)/4 {
		return run{}, fmt.Errorf("run of %d entries in %d bytes: %w", n, len(v), ErrCorrupt)
	}
	return run{data: v, n: n}, nil
}

// entry returns the id and snapshot record of entry i.
func (r run) entry(i int) (id, rec []byte, err error) {
	off := int(binary.BigEndian.Uint32(r.data[4+4*i:]))
	if off > len(r.data) {
		return nil, nil, fmt.Errorf("run entry %d: %w", i, ErrCorrupt)
	}
	b := r.data[off:]
	for _, out := range []*[]byte{&id, &rec} {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, nil, fmt.Errorf("run entry %d: %w", i, ErrCorrupt)
		}
		*out, b = b[k:k+int(l)], b[k+int(l):]
	}
	return id, rec, nil
}

// search returns the first entry whose id is at least id.
func (r run) search(id []byte) (int, error) {
	var err error
	i := sort.Search(r.n, func(i int) bool {
		k, _, e := r.entry(i)
		if e != nil {
			err = e
			return true
		}
		return bytes.Compare(k, id) >= 0
	})
	return i, err
}

// readRuns returns the runs of tx, oldest first; their bytes live as long as tx.
func readRuns(tx *bolt.Tx) ([]run, error) {
	var runs []run
	err := tx.Bucket(bucketRuns).ForEach(func(k, v []byte) error {
		r, err := parseRun(v)
		if err != nil {
			return fmt.Errorf("run %x: %w", k, err)
		}
		runs = append(runs, r)
		return nil
	})
	return runs, err
}

// snapshotView finds a task's snapshot record in the snapshot bucket or the runs.
type snapshotView struct {
	snap getter
	runs []run
}

func newSnapshotView(tx *bolt.Tx) (snapshotView, error) {
	runs, err := readRuns(tx)
	return snapshotView{snap: newGetter(tx.Bucket(bucketSnapshot)), runs: runs}, err
}

func (v snapshotView) get(id []byte) ([]byte, error) {
	if rec := v.snap.get(id); rec != nil {
		return rec, nil
	}
	for _, r := range v.runs {
		i, err := r.search(id)
		if err != nil {
			return nil, err
		}
		if i < r.n {
			k, rec, err := r.entry(i)
			if err != nil {
				return nil, err
			}
			if bytes.Equal(k, id) {
				return rec, nil
			}
		}
	}
	return nil, nil
}

// runCursor walks the runs' entries in id order, from the first after a given id: a heap
// holds the next entry of each run.
type runCursor struct {
	runs []run
	at   []int // the entry of each run after its one in the heap
	h    runHeap
}

type runHead struct {
	id, rec []byte
	run     int
}

type runHeap []runHead

func (h runHeap) Len() int           { return len(h) }
func (h runHeap) Less(i, j int) bool { return bytes.Compare(h[i].id, h[j].id) < 0 }
func (h runHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)        { *h = append(*h, x.(runHead)) }
func (h *runHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// newRunCursor starts after id (nil: at the start).
func newRunCursor(runs []run, after []byte) (*runCursor, error) {
	c := &runCursor{runs: runs, at: make([]int, len(runs))}
	for i, r := range runs {
		if after != nil {
			j, err := r.search(after)
			if err != nil {
				return nil, err
			}
			if j < r.n {
				if k, _, err := r.entry(j); err != nil {
					return nil, err
				} else if bytes.Equal(k, after) {
					j++
				}
			}
			c.at[i] = j
		}
		if err := c.push(i); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// push puts run i's next entry, if any, in the heap.
func (c *runCursor) push(i int) error {
	if c.at[i] >= c.runs[i].n {
		return nil
	}
	id, rec, err := c.runs[i].entry(c.at[i])
	if err != nil {
		return err
	}
	c.at[i]++
	heap.Push(&c.h, runHead{id: id, rec: rec, run: i})
	return nil
}

// next returns the next entry, or a nil id at the end.
func (c *runCursor) next() (id, rec []byte, err error) {
	if len(c.h) == 0 {
		return nil, nil, nil
	}
	top := heap.Pop(&c.h).(runHead)
	return top.id, top.rec, c.push(top.run)
}

// onlyNew reports whether c writes no entry the snapshot may hold: new tasks only, and
// no drops.
func onlyNew(c tasks.Commit) bool {
	if len(c.Drop) > 0 {
		return false
	}
	for _, u := range c.Entries {
		if !u.New {
			return false
		}
	}
	return true
}

// MergeRuns moves the runs of a chunked listing into the snapshot bucket. A Commit that
// needs them merged merges them itself; the Poller calls this once its sinks are idle, so
// the merge neither delays a listing's last commit nor competes with its publishing.
func (s *Store) MergeRuns(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.commits.Lock()
	defer s.commits.Unlock()
	has, err := s.hasRuns()
	if err != nil || !has {
		return err
	}
	return s.mergeRuns(mergeBatch)
}

// hasRuns reports whether any run waits to be merged.
func (s *Store) hasRuns() (bool, error) {
	var has bool
	err := s.view(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bucketRuns).Cursor().First()
		has = k != nil
		return nil
	})
	return has, err
}

// mergeRuns moves every run's entries into the snapshot bucket in id order, batch per
// transaction (mergeBatch), and deletes the runs in the last one. A transaction only puts
// records that are already the truth, so after a crash between two the runs are merged
// again from the start.
func (s *Store) mergeRuns(batch int) error {
	var after []byte // the last id merged
	bulk := false    // the snapshot bucket was empty: its leaves are written full
	for first := true; ; first = false {
		done := false
		err := s.update(func(tx *bolt.Tx) error {
			runs, err := readRuns(tx)
			if err != nil || len(runs) == 0 {
				done = true
				return err
			}
			snap := tx.Bucket(bucketSnapshot)
			if first {
				k, _ := snap.Cursor().First()
				bulk = k == nil
			}
			if bulk {
				snap.FillPercent = appendFill
			}
			c, err := newRunCursor(runs, after)
			if err != nil {
				return err
			}
			for n := 0; n < batch; n++ {
				id, rec, err := c.next()
				if err != nil {
					return err
				}
				if id == nil {
					done = true
					break
				}
				if err := snap.Put(id, rec); err != nil {
					return fmt.Errorf("merge snapshot entry %s: %w", id, err)
				}
				after = id
			}
			if !done {
				after = bytes.Clone(after) // the runs' bytes end with tx
				return nil
			}
			if err := tx.DeleteBucket(bucketRuns); err != nil {
				return err
			}
			_, err = tx.CreateBucket(bucketRuns)
			return err
		})
		if err != nil {
			return fmt.Errorf("merge the snapshot's runs: %w", err)
		}
		if done {
			return nil
		}
	}
}
