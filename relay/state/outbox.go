package state

import (
	"bytes"
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/reten/reten-relay/relay/tasks"
)

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
			m, err := readQueued(evs, &s.recent, sink, k, v, in, &mem)
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

// readQueued decodes one queue record and its event, copying what bbolt owns; the body of
// an event recently committed comes from memory.
func readQueued(evs getter, recent *recentBodies, sink string, k, v []byte, in interner, mem *arena) (tasks.Queued, error) {
	pos, ok := decodePos(k)
	if !ok {
		return tasks.Queued{}, fmt.Errorf("queue key %x: %w", k, ErrCorrupt)
	}
	t, head, hasHead, err := decodeTarget(sink, v, in)
	if err != nil {
		return tasks.Queued{}, fmt.Errorf("queue record %x: %w", k, err)
	}
	m := tasks.Queued{Pos: pos, Head: head, Target: t}
	if t.Body != nil { // its own body
		m.Body = mem.clone(t.Body)
		m.Target.Body = m.Body
		if hasHead {
			return m, nil
		}
	} else if body, ok := recent.read(pos.Seq); ok && hasHead {
		m.Body = body
		return m, nil
	}
	body := evs.get(seqKey(pos.Seq))
	if body == nil {
		return tasks.Queued{}, fmt.Errorf("queue record %x names a missing event: %w", k, ErrCorrupt)
	}
	if !hasHead { // written before targetFate
		if head, body, err = decodeEvent(body, in); err != nil {
			return tasks.Queued{}, fmt.Errorf("outbox event %d: %w", pos.Seq, err)
		}
	}
	m.Head = head
	if m.Body == nil {
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
