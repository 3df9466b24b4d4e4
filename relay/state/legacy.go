package state

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/reten/reten-relay/relay/tasks"
)

// bucketLegacyOutbox is the single outbox of versions before per-sink queues: sequence →
// task id, event id, op (length-prefixed), then the encoded event.
var bucketLegacyOutbox = []byte("outbox")

// LegacyOutbox returns the events an older version left in its outbox, oldest first; none
// when there is no such outbox. The poller routes them and commits them with
// DropLegacyOutbox.
func (s *Store) LegacyOutbox(ctx context.Context) ([]tasks.LegacyEvent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []tasks.LegacyEvent
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLegacyOutbox)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var f [3]string
			body, err := readStrings(v, f[:])
			if err != nil {
				return fmt.Errorf("old outbox record %x: %w", k, err)
			}
			out = append(out, tasks.LegacyEvent{TaskID: f[0], EventID: f[1], Body: append([]byte(nil), body...)})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read the old outbox: %w", err)
	}
	return out, nil
}

// dropLegacyOutbox removes the old outbox, when there is one.
func dropLegacyOutbox(tx *bolt.Tx) error {
	if tx.Bucket(bucketLegacyOutbox) == nil {
		return nil
	}
	if err := tx.DeleteBucket(bucketLegacyOutbox); err != nil {
		return fmt.Errorf("drop the old outbox: %w", err)
	}
	return nil
}
