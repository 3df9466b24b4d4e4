package state

import (
	"bytes"
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/reten/reten-relay/relay/tasks"
)

// appendFill is the fill percent of buckets written in key order: pages are split full,
// since nothing is ever inserted before the last key.
const appendFill = 0.95

// Commit writes the snapshot entries, the published JSON, the events with their queued
// messages and the meta in one transaction, fsynced before it returns. A cancelled ctx
// commits nothing.
func (s *Store) Commit(ctx context.Context, c tasks.Commit) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.update(func(tx *bolt.Tx) error {
		evs, queues := tx.Bucket(bucketEvents), tx.Bucket(bucketQueues)
		evs.FillPercent = appendFill
		// Where each entry's new JSON sits in this commit's events, for the snapshot to
		// point at (inEvents[i] is entry i's).
		inEvents := make([]verRef, len(c.Entries))
		find := entryFinder{entries: c.Entries}
		qs := queueBuckets{queues: queues}
		for _, ev := range c.Events {
			seq, err := evs.NextSequence()
			if err != nil {
				return fmt.Errorf("next outbox sequence: %w", err)
			}
			if i, ok := find.index(ev.Head.TaskID); ok && len(ev.Targets) > 0 {
				if u := c.Entries[i]; u.Published != nil && !u.Entry.Deleted {
					if off, n, ok := taskIn(ev, u.Published); ok {
						inEvents[i] = verRef{seq: seq, inEvent: true, off: off, n: n}
					}
				}
			}
			if err := evs.Put(seqKey(seq), encodeEvent(ev)); err != nil {
				return fmt.Errorf("put outbox event %s: %w", ev.Head.EventID, err)
			}
			for n, t := range ev.Targets {
				q, err := qs.of(t.Sink)
				if err != nil {
					return err
				}
				if err := q.Put(posKey(tasks.QueuePos{Seq: seq, N: uint16(n)}), encodeTarget(t)); err != nil {
					return fmt.Errorf("queue event %s for sink %s: %w", ev.Head.EventID, t.Sink, err)
				}
			}
		}
		if err := putEntries(tx, c.Entries, c.Drop, inEvents); err != nil {
			return err
		}
		if c.DropLegacyOutbox {
			if err := dropLegacyOutbox(tx); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keyMeta, encodeMeta(c.Meta))
	})
	if err != nil {
		return fmt.Errorf("commit %d entries and %d events: %w", len(c.Entries), len(c.Events), err)
	}
	return nil
}

// putEntries writes the snapshot entries. A new published JSON is found in this commit's
// events (inEvents, by entry) or else appended to versions (see the package doc); the
// task's earlier version is deleted, or, while an event that holds it is still queued,
// left to Ack.
func putEntries(tx *bolt.Tx, entries []tasks.EntryUpdate, drop []string, inEvents []verRef) error {
	snap, vers, legacy := tx.Bucket(bucketSnapshot), tx.Bucket(bucketVersions), tx.Bucket(bucketPublished)
	evs, queues := tx.Bucket(bucketEvents), tx.Bucket(bucketQueues)
	vers.FillPercent = appendFill
	hasLegacy := legacy != nil
	if hasLegacy {
		k, _ := legacy.Cursor().First()
		hasLegacy = k != nil
	}
	probe, snapGet := newQueueProbe(queues), newGetter(snap)
	// forget removes what a task's published JSON was before it changed.
	forget := func(k []byte, old verRef) error {
		switch {
		case old.inEvent:
			if held, err := probe.held(old.seq); err != nil || held {
				return err // still queued: Ack deletes it
			}
			if err := evs.Delete(seqKey(old.seq)); err != nil {
				return fmt.Errorf("drop old version of task %s: %w", k, err)
			}
		case old.seq != 0:
			if err := vers.Delete(seqKey(old.seq)); err != nil {
				return fmt.Errorf("drop old version of task %s: %w", k, err)
			}
		}
		if hasLegacy {
			if err := legacy.Delete(k); err != nil {
				return fmt.Errorf("drop published task %s: %w", k, err)
			}
		}
		return nil
	}
	keys := keyBlock{}
	for i, u := range entries {
		k := keys.key(u.ID)
		old, err := versionOf(snapGet, k)
		if err != nil {
			return err
		}
		ref := old
		switch {
		case u.Entry.Deleted:
			ref = verRef{}
		case u.Published != nil:
			if ref = inEvents[i]; ref.inEvent {
				break
			}
			seq, err := vers.NextSequence()
			if err != nil {
				return fmt.Errorf("next version sequence: %w", err)
			}
			if err := vers.Put(seqKey(seq), u.Published); err != nil {
				return fmt.Errorf("put published task %s: %w", u.ID, err)
			}
			ref = verRef{seq: seq}
		}
		if ref != old || u.Entry.Deleted {
			if err := forget(k, old); err != nil {
				return err
			}
		}
		if err := snap.Put(k, encodeSnap(u.Entry, ref)); err != nil {
			return fmt.Errorf("put snapshot entry %s: %w", u.ID, err)
		}
	}
	for _, id := range drop {
		k := []byte(id)
		old, err := versionOf(snapGet, k)
		if err != nil {
			return err
		}
		if err := forget(k, old); err != nil {
			return err
		}
		if err := snap.Delete(k); err != nil {
			return fmt.Errorf("drop snapshot entry %s: %w", id, err)
		}
	}
	return nil
}

// versionOf returns where the snapshot record of k says the task's JSON is.
func versionOf(snap getter, k []byte) (verRef, error) {
	v := snap.get(k)
	if v == nil {
		return verRef{}, nil
	}
	_, ref, err := decodeSnap(v)
	if err != nil {
		return verRef{}, fmt.Errorf("snapshot entry %q: %w", k, err)
	}
	return ref, nil
}

// Outbox returns up to limit messages queued for sink after position after, in order.
func (s *Store) Outbox(ctx context.Context, sink string, after *tasks.QueuePos, limit int) ([]tasks.Queued, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []tasks.Queued
	err := s.view(func(tx *bolt.Tx) error {
		q := tx.Bucket(bucketQueues).Bucket([]byte(sink))
		if q == nil {
			return nil
		}
		// Room for a whole read at once: a Queued is ~200 bytes, and growing the slice
		// by doubling copied each read's messages ten times.
		out = make([]tasks.Queued, 0, min(limit, maxOutboxPrealloc))
		evs := newGetter(tx.Bucket(bucketEvents))
		in, mem := interner{}, arena{}
		c := q.Cursor()
		k, v := c.First()
		if after != nil {
			ak := posKey(*after)
			if k, v = c.Seek(ak); k != nil && bytes.Equal(k, ak) {
				k, v = c.Next()
			}
		}
		for ; k != nil && len(out) < limit; k, v = c.Next() {
			m, err := readQueued(evs, sink, k, v, in, &mem)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read outbox of sink %s: %w", sink, err)
	}
	return out, nil
}

// maxOutboxPrealloc bounds the room Outbox makes before it knows how many messages wait.
const maxOutboxPrealloc = 4096

// readQueued decodes one queue record and its event, copying what bbolt owns.
func readQueued(evs getter, sink string, k, v []byte, in interner, mem *arena) (tasks.Queued, error) {
	pos, ok := decodePos(k)
	if !ok {
		return tasks.Queued{}, fmt.Errorf("queue key %x: %w", k, ErrCorrupt)
	}
	t, err := decodeTarget(sink, v, in)
	if err != nil {
		return tasks.Queued{}, fmt.Errorf("queue record %x: %w", k, err)
	}
	ev := evs.get(seqKey(pos.Seq))
	if ev == nil {
		return tasks.Queued{}, fmt.Errorf("queue record %x names a missing event: %w", k, ErrCorrupt)
	}
	head, body, err := decodeEvent(ev, in)
	if err != nil {
		return tasks.Queued{}, fmt.Errorf("outbox event %d: %w", pos.Seq, err)
	}
	m := tasks.Queued{Pos: pos, Head: head, Target: t}
	if t.Body != nil {
		m.Body = mem.clone(t.Body)
		m.Target.Body = m.Body
	} else {
		m.Body = mem.clone(body)
	}
	return m, nil
}

// arena copies the bodies of one outbox read into a few large blocks instead of one
// allocation per message; the messages of a read are published and dropped together.
type arena struct{ block []byte }

// arenaBlock is the size of an arena's blocks: about fifty 1 KB task events.
const arenaBlock = 64 << 10

func (a *arena) clone(b []byte) []byte {
	if a.block == nil || cap(a.block)-len(a.block) < len(b) { // never nil: a nil Body means none
		a.block = make([]byte, 0, max(arenaBlock, len(b)))
	}
	n := len(a.block)
	a.block = append(a.block, b...)
	return a.block[n : n+len(b) : n+len(b)] // full slice expression: an append copies
}

// Pending counts the messages queued per sink.
func (s *Store) Pending(ctx context.Context) (map[string]int, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := map[string]int{}
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketQueues).ForEachBucket(func(k []byte) error {
			out[string(k)] = tx.Bucket(bucketQueues).Bucket(k).Stats().KeyN
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("count outbox: %w", err)
	}
	return out, nil
}

// Ack removes the messages at pos from sink's queue, and every event of theirs that no
// other queue still holds, in one transaction.
func (s *Store) Ack(ctx context.Context, sink string, pos []tasks.QueuePos) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(pos) == 0 {
		return nil
	}
	err := s.update(func(tx *bolt.Tx) error {
		queues := tx.Bucket(bucketQueues)
		q := queues.Bucket([]byte(sink))
		if q == nil {
			return nil
		}
		// One cursor for all the deletes: Bucket.Delete makes a new one each time.
		qc := q.Cursor()
		for _, p := range pos {
			k := posKey(p)
			if kk, _ := qc.Seek(k); !bytes.Equal(kk, k) {
				continue // already removed, as Bucket.Delete of a missing key
			}
			if err := qc.Delete(); err != nil {
				return err
			}
		}
		probe := newQueueProbe(queues)
		evs, snap := newGetter(tx.Bucket(bucketEvents)), newGetter(tx.Bucket(bucketSnapshot))
		var last uint64
		for i, p := range pos {
			if i > 0 && p.Seq == last {
				continue
			}
			last = p.Seq
			if held, err := probe.held(p.Seq); err != nil || held {
				if err != nil {
					return err
				}
				continue
			}
			if err := retire(tx, evs, snap, p.Seq); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("remove %d messages from the outbox of sink %s: %w", len(pos), sink, err)
	}
	return nil
}

// keepOverhead is how many bytes besides the task's JSON a confirmed event may hold and
// still be kept as the task's version (a created event: the envelope); a bigger one (an
// updated event also holds the previous version) gives its task JSON to versions.
const keepOverhead = 1024

// retire deletes event seq, which no queue holds any more, unless it holds its task's
// published JSON (verRef.inEvent): then it stays as that version, or for a large event
// the JSON moves to versions.
func retire(tx *bolt.Tx, evGet, snapGet getter, seq uint64) error {
	evs, snap := tx.Bucket(bucketEvents), tx.Bucket(bucketSnapshot)
	k := seqKey(seq)
	rec := evGet.get(k)
	if rec == nil {
		return nil
	}
	id, err := eventTaskID(rec)
	if err != nil {
		return fmt.Errorf("outbox event %d: %w", seq, err)
	}
	sv := snapGet.get(id)
	if sv == nil {
		return evs.Delete(k)
	}
	e, ref, err := decodeSnap(sv)
	if err != nil {
		return fmt.Errorf("snapshot entry %q: %w", id, err)
	}
	if !ref.inEvent || ref.seq != seq {
		return evs.Delete(k)
	}
	if len(rec)-int(ref.n) <= keepOverhead {
		return nil
	}
	vers := tx.Bucket(bucketVersions)
	ver, err := vers.NextSequence()
	if err != nil {
		return fmt.Errorf("next version sequence: %w", err)
	}
	id = bytes.Clone(id) // rec dies with the changes below
	if err := vers.Put(seqKey(ver), bytes.Clone(rec[ref.off:ref.off+ref.n])); err != nil {
		return fmt.Errorf("put published task %s: %w", id, err)
	}
	if err := snap.Put(id, encodeSnap(e, verRef{seq: ver})); err != nil {
		return fmt.Errorf("put snapshot entry %s: %w", id, err)
	}
	return evs.Delete(k)
}
