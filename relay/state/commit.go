package state

import (
	"context"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/reten/reten-relay/relay/tasks"
)

// Commit writes the snapshot entries, the published JSON, the outbox events and the meta
// in one transaction, fsynced before it returns. A cancelled ctx commits nothing.
func (s *Store) Commit(ctx context.Context, c tasks.Commit) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		snap, pub, out := tx.Bucket(bucketSnapshot), tx.Bucket(bucketPublished), tx.Bucket(bucketOutbox)
		for _, u := range c.Entries {
			k := []byte(u.ID)
			if err := snap.Put(k, encodeEntry(u.Entry)); err != nil {
				return fmt.Errorf("put snapshot entry %s: %w", u.ID, err)
			}
			switch {
			case u.Entry.Deleted:
				if err := pub.Delete(k); err != nil {
					return fmt.Errorf("drop published task %s: %w", u.ID, err)
				}
			case u.Published != nil:
				if err := pub.Put(k, u.Published); err != nil {
					return fmt.Errorf("put published task %s: %w", u.ID, err)
				}
			}
		}
		for _, ev := range c.Events {
			seq, err := out.NextSequence()
			if err != nil {
				return fmt.Errorf("next outbox sequence: %w", err)
			}
			if err := out.Put(seqKey(seq), encodeOutbox(ev)); err != nil {
				return fmt.Errorf("put outbox event %s: %w", ev.EventID, err)
			}
		}
		return tx.Bucket(bucketMeta).Put(keyMeta, encodeMeta(c.Meta))
	})
	if err != nil {
		return fmt.Errorf("commit %d entries and %d events: %w", len(c.Entries), len(c.Events), err)
	}
	return nil
}

// Outbox returns up to limit pending events, lowest sequence first.
func (s *Store) Outbox(ctx context.Context, limit int) ([]tasks.OutboxEvent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []tasks.OutboxEvent
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketOutbox).Cursor()
		for k, v := c.First(); k != nil && len(out) < limit; k, v = c.Next() {
			ev, err := decodeOutbox(v)
			if err != nil || len(k) != 8 {
				return fmt.Errorf("outbox record %x: %w", k, ErrCorrupt)
			}
			ev.Seq = binary.BigEndian.Uint64(k)
			out = append(out, ev)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	return out, nil
}

// OutboxLen counts the pending events.
func (s *Store) OutboxLen(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var n int
	err := s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketOutbox).Stats().KeyN
		return nil
	})
	return n, err
}

// Ack removes the events with these sequence numbers from the outbox, in one transaction.
func (s *Store) Ack(ctx context.Context, seqs []uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(seqs) == 0 {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		for _, seq := range seqs {
			if err := b.Delete(seqKey(seq)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("remove %d events from outbox: %w", len(seqs), err)
	}
	return nil
}
