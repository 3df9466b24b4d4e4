package state

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"

	"github.com/reten/reten-relay/relay/tasks"
)

// The look-ups of one transaction: each made once per transaction and reused for every
// record, since a first sync writes and acknowledges 100,000 of them.

// entryFinder finds a task's entry in a commit's entries, which are sorted by id
// (tasks.Commit), and its events mostly in the same order: a look-up tries the entry
// after the last one found, then a binary search. Entries out of order only cost the
// events their place in the snapshot (the JSON goes to versions instead). A map of ids
// cost a first sync more than the rest of its snapshot writes.
type entryFinder struct {
	entries []tasks.EntryUpdate
	next    int
}

func (f *entryFinder) index(id string) (int, bool) {
	i := f.next
	if i >= len(f.entries) || f.entries[i].ID != id {
		i = sort.Search(len(f.entries), func(j int) bool { return f.entries[j].ID >= id })
		if i == len(f.entries) || f.entries[i].ID != id {
			return 0, false
		}
	}
	f.next = i + 1
	return i, true
}

// queueBuckets opens each sink's queue once per transaction (a few sinks; a look-up of
// the name per message showed in a first sync's profile).
type queueBuckets struct {
	queues *bolt.Bucket
	names  []string
	open   []*bolt.Bucket
}

func (q *queueBuckets) of(sink string) (*bolt.Bucket, error) {
	for i, n := range q.names {
		if n == sink {
			return q.open[i], nil
		}
	}
	b, err := q.queues.CreateBucketIfNotExists([]byte(sink))
	if err != nil {
		return nil, fmt.Errorf("create queue of sink %s: %w", sink, err)
	}
	b.FillPercent = appendFill
	q.names, q.open = append(q.names, sink), append(q.open, b)
	return b, nil
}

// txBytes makes the keys and values of one write transaction in a few large blocks
// instead of one allocation each (bbolt keeps them until the transaction ends): a first
// sync writes four records per task.
type txBytes struct{ block []byte }

// make returns an empty slice with room for n bytes; appending beyond n copies.
func (b *txBytes) make(n int) []byte {
	if cap(b.block)-len(b.block) < n {
		b.block = make([]byte, 0, max(16<<10, n))
	}
	start := len(b.block)
	b.block = b.block[:start+n]
	return b.block[start : start : start+n]
}

// key is id's bytes.
func (b *txBytes) key(id string) []byte { return append(b.make(len(id)), id...) }

// seq is seqKey(seq).
func (b *txBytes) seq(seq uint64) []byte { return binary.BigEndian.AppendUint64(b.make(8), seq) }

// pos is posKey(p).
func (b *txBytes) pos(p tasks.QueuePos) []byte {
	return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint64(b.make(10), p.Seq), p.N)
}

// queueProbe tells whether any queue still holds a message of an event, with one cursor
// per queue for a whole transaction: an Ack of thousands of messages looked at every
// queue's name and made a new cursor for each event. Make it after the transaction's
// last new queue; a cursor's Seek starts from the root, so writes in between are seen.
type queueProbe struct {
	cursors []*bolt.Cursor
	buckets []*bolt.Bucket // cursors[i]'s
	made    bool
	queues  *bolt.Bucket
}

func newQueueProbe(queues *bolt.Bucket) *queueProbe { return &queueProbe{queues: queues} }

// open makes the cursors, once.
func (q *queueProbe) open() error {
	if q.made {
		return nil
	}
	q.made = true
	return q.queues.ForEachBucket(func(name []byte) error {
		b := q.queues.Bucket(name)
		q.cursors, q.buckets = append(q.cursors, b.Cursor()), append(q.buckets, b)
		return nil
	})
}

// held reports whether any queue still holds a message of event seq.
func (q *queueProbe) held(seq uint64) (bool, error) {
	if err := q.open(); err != nil {
		return false, err
	}
	var prefix [8]byte
	binary.BigEndian.PutUint64(prefix[:], seq)
	for _, c := range q.cursors {
		if k, _ := c.Seek(prefix[:]); len(k) == 10 && binary.BigEndian.Uint64(k) == seq {
			return true, nil
		}
	}
	return false, nil
}

// unkeep clears targetKeep in every queue record of event seq: its task's snapshot now
// points elsewhere, and the event is deleted once no queue holds it.
func (q *queueProbe) unkeep(seq uint64) error {
	if err := q.open(); err != nil {
		return err
	}
	var prefix [8]byte
	binary.BigEndian.PutUint64(prefix[:], seq)
	for i, c := range q.cursors {
		var rewrite [][2][]byte
		for k, v := c.Seek(prefix[:]); len(k) == 10 && binary.BigEndian.Uint64(k) == seq; k, v = c.Next() {
			if len(v) == 0 {
				return fmt.Errorf("queue record %x: %w", k, ErrCorrupt)
			}
			f, err := targetFlags(v)
			if err != nil {
				return fmt.Errorf("queue record %x: %w", k, err)
			}
			if f&targetKeep != 0 {
				rewrite = append(rewrite, [2][]byte{bytes.Clone(k), bytes.Clone(v)})
			}
		}
		for _, kv := range rewrite {
			if err := q.buckets[i].Put(kv[0], clearKeep(kv[1])); err != nil {
				return fmt.Errorf("update queue record %x: %w", kv[0], err)
			}
		}
	}
	return nil
}

// getter looks keys up with one cursor for a whole transaction: Bucket.Get makes a new
// cursor and grows its stack on every call, a third of the bytes a first sync's commits
// and acks allocated in bbolt. Seek starts from the root, so writes in between are seen.
type getter struct{ c *bolt.Cursor }

func newGetter(b *bolt.Bucket) getter { return getter{c: b.Cursor()} }

// get is Bucket.Get of a bucket without nested buckets.
func (g getter) get(k []byte) []byte {
	if kk, v := g.c.Seek(k); bytes.Equal(kk, k) {
		return v
	}
	return nil
}
