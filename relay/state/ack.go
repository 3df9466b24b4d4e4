package state

import (
	"bytes"
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/reten/reten-relay/relay/tasks"
)

// Ack removes the messages at pos from sink's queue, and every event of theirs that no
// other queue still holds, in one transaction.
func (s *Store) Ack(ctx context.Context, sink string, pos []tasks.QueuePos) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(pos) == 0 {
		return nil
	}
	var retired []uint64
	err := s.update(func(tx *bolt.Tx) error {
		queues := tx.Bucket(bucketQueues)
		q := queues.Bucket([]byte(sink))
		if q == nil {
			return nil
		}
		// One cursor for all the deletes: Bucket.Delete makes a new one each time. Each
		// record's flags say what becomes of its event (see targetFate).
		qc := q.Cursor()
		flags := make([]byte, len(pos))
		for i, p := range pos {
			k := posKey(p)
			kk, v := qc.Seek(k)
			if !bytes.Equal(kk, k) {
				// Already removed, as Bucket.Delete of a missing key; whoever removed it
				// retired its event or left it to another queue.
				flags[i] = ackedBefore
				continue
			}
			f, err := targetFlags(v)
			if err != nil {
				return fmt.Errorf("queue record %d/%d: %w", p.Seq, p.N, err) // not k: it would escape
			}
			flags[i] = f
			if err := qc.Delete(); err != nil {
				return err
			}
		}
		probe := newQueueProbe(queues)
		events := tx.Bucket(bucketEvents)
		evs, snap := newGetter(events), newGetter(tx.Bucket(bucketSnapshot))
		var last uint64
		for i, p := range pos {
			if i > 0 && p.Seq == last || flags[i] == ackedBefore {
				continue
			}
			last = p.Seq
			if flags[i]&targetOnly == 0 {
				if held, err := probe.held(p.Seq); err != nil || held {
					if err != nil {
						return err
					}
					continue
				}
			}
			retired = append(retired, p.Seq)
			var err error
			switch f := flags[i]; {
			case f&targetKeep != 0: // its task's version: it stays
			case f&targetFate != 0:
				err = events.Delete(seqKey(p.Seq))
			default:
				err = retire(tx, evs, snap, p.Seq)
			}
			if err != nil {
				return fmt.Errorf("retire outbox event %d: %w", p.Seq, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("remove %d messages from the outbox of sink %s: %w", len(pos), sink, err)
	}
	s.recent.drop(retired)
	return nil
}

// ackedBefore marks a position Ack did not find (no queue record has all these bits).
const ackedBefore = 0xff

// keepOverhead is how many bytes besides the task's JSON a confirmed event may hold and
// still be kept as the task's version (a created event: the envelope); a bigger one (an
// updated event also holds the previous version) gives its task JSON to versions.
const keepOverhead = 1024

// retire, for a queue record written before targetFate, deletes event seq, which no queue
// holds any more, unless it holds its task's published JSON (verRef.inEvent): then it stays
// as that version, or for a large event the JSON moves to versions.
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
