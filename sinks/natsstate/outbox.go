package natsstate

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/reten/reten-relay/schema"
)

// ackWorkers is how many outbox records are purged one by one at once.
const ackWorkers = 32

// Outbox returns up to limit messages queued for sink after position after, in order. Only
// the lease holder may read it: a relay that lost the lease must not publish.
func (s *Store) Outbox(ctx context.Context, sink string, after *schema.QueuePos, limit int) ([]schema.Queued, error) {
	if !s.lease.Holding() {
		return nil, fmt.Errorf("read outbox of sink %s: %w", sink, ErrNotHolder)
	}
	s.mu.Lock()
	from := max(s.purged[sink], 1) // below it every record of sink is gone
	if after != nil {
		if q := s.queued[sink][after.Seq]; q != nil {
			from = q.streamSeq // the record of after may hold messages after it
		}
	}
	contiguous := from <= s.scanned[sink]+1
	s.mu.Unlock()
	var out []schema.Queued
	var last uint64 // the last stream sequence looked at
	err := s.scan(ctx, s.subject(keyQueue+sink+".>"), from, max(limit, 16), func(m storedMsg) (bool, error) {
		last = m.seq
		if m.deleted {
			return true, nil
		}
		_, seq, _, err := parseQueueKey(strings.TrimPrefix(m.subject, s.prefix))
		if err != nil {
			return false, err
		}
		qs, err := decodeQueued(sink, seq, m.data)
		if err != nil {
			return false, fmt.Errorf("outbox record %s: %w", m.subject, err)
		}
		acked := s.note(sink, seq, m.seq, len(qs))
		if after != nil && seq < after.Seq {
			return true, nil
		}
		for _, q := range qs {
			if acked[q.Pos.N] || (after != nil && seq == after.Seq && q.Pos.N <= after.N) {
				continue
			}
			out = append(out, q)
		}
		return len(out) < limit, nil
	})
	if err != nil {
		return nil, fmt.Errorf("read outbox of sink %s: %w", sink, err)
	}
	if contiguous && last > 0 {
		s.mu.Lock()
		s.scanned[sink] = max(s.scanned[sink], last)
		s.mu.Unlock()
	}
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// note remembers where a record is and returns which of its messages were acked.
func (s *Store) note(sink string, seq, streamSeq uint64, n int) map[uint16]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queued[sink]
	if q == nil {
		q = map[uint64]*qinfo{}
		s.queued[sink] = q
	}
	info := q[seq]
	if info == nil || info.streamSeq != streamSeq {
		info = &qinfo{streamSeq: streamSeq, n: n}
		q[seq] = info
	}
	return maps.Clone(info.acked)
}

// Ack removes confirmed messages. A record goes once all its messages are confirmed.
// Records go without leaving KV delete markers (which would stay, one per event): the
// ones below every record still queued are purged as one range of the stream (the
// usual case, as sinks confirm in queue order), any others one by one by subject. (KV
// buckets deny deleting a message by sequence.) Messages of a record that are only partly
// confirmed are remembered in memory: after a restart or a take-over they are published
// again, with the same ids.
func (s *Store) Ack(ctx context.Context, sink string, pos []schema.QueuePos) error {
	if len(pos) == 0 {
		return nil
	}
	if err := s.knowAll(ctx, sink, pos); err != nil {
		return err
	}
	upTo, keys := s.markAcked(sink, pos)
	var errs []error
	if upTo > 0 {
		if err := s.str.Purge(ctx, jetstream.WithPurgeSubject(s.subject(keyQueue+sink+".>")), jetstream.WithPurgeSequence(upTo)); err != nil {
			errs = append(errs, fmt.Errorf("purge outbox records below stream sequence %d: %w", upTo, err))
		}
	}
	if err := s.purgeKeys(ctx, keys); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove %d published messages from the outbox of sink %s: %w", len(pos), sink, err)
	}
	return nil
}

// markAcked records pos as confirmed and decides how the records now fully confirmed
// go: those below every record still queued (and within what the store knows completely)
// by purging the stream below upTo (0: none), the others by key.
func (s *Store) markAcked(sink string, pos []schema.QueuePos) (upTo uint64, keys []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queued[sink]
	type done struct {
		key       string
		streamSeq uint64
	}
	var gone []done
	for _, p := range pos {
		info := q[p.Seq]
		if info == nil {
			continue // unknown: already gone
		}
		if info.acked == nil {
			info.acked = map[uint16]bool{}
		}
		info.acked[p.N] = true
		if len(info.acked) >= info.n {
			gone = append(gone, done{queueKey(sink, p.Seq, info.n), info.streamSeq})
			delete(q, p.Seq)
		}
	}
	floor := s.scanned[sink] + 1 // beyond it the store may not know every record
	for _, info := range q {
		floor = min(floor, info.streamSeq)
	}
	for _, g := range gone {
		if g.streamSeq < floor {
			upTo = max(upTo, g.streamSeq+1)
		} else {
			keys = append(keys, g.key)
		}
	}
	// Counted as purged already: a failed purge leaves records that a later term's full
	// read finds (and publishes again, same ids).
	s.purged[sink] = max(s.purged[sink], upTo)
	return upTo, keys
}

// knowAll makes sure the store knows where the records of pos are, reading the sink's
// queue when one is missing (Ack without Outbox in this process: rare).
func (s *Store) knowAll(ctx context.Context, sink string, pos []schema.QueuePos) error {
	s.mu.Lock()
	missing := false
	for _, p := range pos {
		if s.queued[sink][p.Seq] == nil {
			missing = true
			break
		}
	}
	s.mu.Unlock()
	if !missing {
		return nil
	}
	return s.scan(ctx, s.subject(keyQueue+sink+".>"), 1, 10000, func(m storedMsg) (bool, error) {
		if m.deleted {
			return true, nil
		}
		_, seq, n, err := parseQueueKey(strings.TrimPrefix(m.subject, s.prefix))
		if err != nil {
			return false, err
		}
		s.note(sink, seq, m.seq, n)
		return true, nil
	})
}

// purgeKeys removes the messages of keys, several at a time, with the stream's purge
// filtered to each key's subject. A key already gone (another relay acked it) is fine.
func (s *Store) purgeKeys(ctx context.Context, keys []string) error {
	sort.Strings(keys)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	work := make(chan string)
	for range min(ackWorkers, len(keys)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for key := range work {
				if err := s.str.Purge(ctx, jetstream.WithPurgeSubject(s.subject(key))); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("purge outbox record %s: %w", key, err))
					mu.Unlock()
				}
			}
		}()
	}
	for _, key := range keys {
		work <- key
	}
	close(work)
	wg.Wait()
	return errors.Join(errs...)
}
