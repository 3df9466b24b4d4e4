package state

import (
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
	s.commits.Lock()
	defer s.commits.Unlock()
	var run *runBuilder
	if toRun(c) {
		run = &runBuilder{}
	} else if !onlyNew(c) {
		// A known task's entry may sit in a run: merge first, or the run's older entry
		// would come back over this one. New tasks, and none, go beside the runs.
		has, err := s.hasRuns()
		if err == nil && has {
			err = s.mergeRuns(mergeBatch)
		}
		if err != nil {
			return fmt.Errorf("commit %d entries and %d events: %w", len(c.Entries), len(c.Events), err)
		}
	}
	seqs := make([]uint64, len(c.Events))
	err := s.update(func(tx *bolt.Tx) error {
		evs, queues := tx.Bucket(bucketEvents), tx.Bucket(bucketQueues)
		evs.FillPercent = appendFill
		// Where each entry's new JSON sits in this commit's events, for the snapshot to
		// point at (inEvents[i] is entry i's), found before the events are written: their
		// queue records say whether the event stays as that version (targetKeep).
		of := make([]int, len(c.Events))
		inEvents := make([]verRef, len(c.Entries))
		find := entryFinder{entries: c.Entries}
		for e, ev := range c.Events {
			seq, err := evs.NextSequence()
			if err != nil {
				return fmt.Errorf("next outbox sequence: %w", err)
			}
			seqs[e], of[e] = seq, -1
			if ref, i, ok := versionIn(ev, seq, c.Entries, &find); ok {
				inEvents[i], of[e] = ref, i
			}
		}
		qs := queueBuckets{queues: queues}
		var mem txBytes
		for e, ev := range c.Events {
			seq := seqs[e]
			// The body as given: bbolt copies it when the transaction commits.
			if err := evs.Put(mem.seq(seq), ev.Body); err != nil {
				return fmt.Errorf("put outbox event %s: %w", ev.Head.EventID, err)
			}
			flags := byte(targetFate)
			if i := of[e]; i >= 0 && inEvents[i].seq == seq { // the last event of its task
				flags |= targetKeep
			}
			if len(ev.Targets) == 1 {
				flags |= targetOnly
			}
			for n, t := range ev.Targets {
				q, err := qs.of(t.Sink)
				if err != nil {
					return err
				}
				rec := appendTarget(mem.make(targetSize(t, ev.Head)), t, ev.Head, flags)
				if err := q.Put(mem.pos(tasks.QueuePos{Seq: seq, N: uint16(n)}), rec); err != nil {
					return fmt.Errorf("queue event %s for sink %s: %w", ev.Head.EventID, t.Sink, err)
				}
			}
		}
		if err := putEntries(tx, c.Entries, c.Drop, inEvents, run); err != nil {
			return err
		}
		if run != nil {
			if err := putRun(tx, run); err != nil {
				return err
			}
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
	for e, ev := range c.Events {
		if len(ev.Targets) > 0 {
			s.recent.add(seqs[e], ev.Body, len(ev.Targets))
		}
	}
	return nil
}

// versionIn returns where in event ev (at seq) its task's new JSON sits, and the index of
// the task's entry, when the event can stay as that version once its sinks confirmed it:
// it has messages and holds the JSON byte for byte with little else (keepOverhead; an
// updated event also holds the previous version, and its task's JSON goes to versions).
func versionIn(ev tasks.OutboxEvent, seq uint64, entries []tasks.EntryUpdate, find *entryFinder) (verRef, int, bool) {
	i, ok := find.index(ev.Head.TaskID)
	if !ok || len(ev.Targets) == 0 {
		return verRef{}, 0, false
	}
	u := entries[i]
	if u.Published == nil || u.Entry.Deleted {
		return verRef{}, 0, false
	}
	off, n, ok := taskIn(ev, u.Published)
	if !ok || len(ev.Body)-int(n) > keepOverhead {
		return verRef{}, 0, false
	}
	return verRef{seq: seq, inEvent: true, off: off, n: n}, i, true
}

// putRun appends run to the runs.
func putRun(tx *bolt.Tx, run *runBuilder) error {
	runs := tx.Bucket(bucketRuns)
	runs.FillPercent = appendFill
	seq, err := runs.NextSequence()
	if err != nil {
		return fmt.Errorf("next run sequence: %w", err)
	}
	if err := runs.Put(seqKey(seq), run.encode()); err != nil {
		return fmt.Errorf("put run of %d snapshot entries: %w", len(run.ids), err)
	}
	return nil
}

// putEntries writes the snapshot entries, into run when it is not nil (every entry is
// new: see toRun). A new published JSON is found in this commit's events (inEvents, by
// entry) or else appended to versions (see the package doc); the task's earlier version
// is deleted, or, while an event that holds it is still queued, left to Ack.
func putEntries(tx *bolt.Tx, entries []tasks.EntryUpdate, drop []string, inEvents []verRef, run *runBuilder) error {
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
				if err != nil {
					return err
				}
				return probe.unkeep(old.seq) // still queued: Ack deletes it
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
	var mem txBytes
	for i, u := range entries {
		k := mem.key(u.ID)
		var old verRef
		if !u.New {
			var err error
			if old, err = versionOf(snapGet, k); err != nil {
				return err
			}
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
			if err := vers.Put(mem.seq(seq), u.Published); err != nil {
				return fmt.Errorf("put published task %s: %w", u.ID, err)
			}
			ref = verRef{seq: seq}
		}
		if ref != old || u.Entry.Deleted {
			if err := forget(k, old); err != nil {
				return err
			}
		}
		if run != nil {
			run.add(u.ID, appendSnap(mem.make(snapSize), u.Entry, ref))
			continue
		}
		if err := snap.Put(k, appendSnap(mem.make(snapSize), u.Entry, ref)); err != nil {
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
