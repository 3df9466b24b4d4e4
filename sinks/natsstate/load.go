package natsstate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/reten/reten-relay/schema"
)

// Read sizes: entries are tiny, so a pull holds many; multi-subject gets are capped at
// 1024 subjects by the server.
const (
	indexPage     = 10000
	publishedPage = 1000
)

// LoadIndex calls fn for every snapshot entry, tombstones included. It reads the last
// value of each entry key through an ordered consumer (four times faster than batched
// direct gets for 100,000 entries), so a bucket with a longer history (an operator's
// choice) reads the same.
func (s *Store) LoadIndex(ctx context.Context, fn func(id string, e schema.TaskEntry)) error {
	cons, err := s.str.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{s.subject(keyEntry + ">")},
		DeliverPolicy:     jetstream.DeliverLastPerSubjectPolicy,
		InactiveThreshold: time.Minute,
	})
	if err != nil {
		return fmt.Errorf("read snapshot: %w", err)
	}
	info := cons.CachedInfo()
	defer func() { _ = s.str.DeleteConsumer(context.WithoutCancel(ctx), info.Name) }()
	if info.NumPending == 0 {
		return nil
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(indexPage))
	if err != nil {
		return fmt.Errorf("read snapshot: %w", err)
	}
	defer it.Stop()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*readTimeout)
		defer cancel()
	}
	stop := context.AfterFunc(ctx, it.Stop) // Next has no ctx of its own
	defer stop()
	pre := s.subject(keyEntry)
	for {
		m, err := it.Next()
		if err != nil {
			return fmt.Errorf("read snapshot: %w", errors.Join(err, ctx.Err()))
		}
		md, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("read snapshot: %w", err)
		}
		if !isMarker(m.Headers()) {
			id, err := taskID(strings.TrimPrefix(m.Subject(), pre))
			if err != nil {
				return err
			}
			e, err := decodeEntry(m.Data())
			if err != nil {
				return fmt.Errorf("snapshot entry %q: %w", id, err)
			}
			fn(id, e)
		}
		if md.NumPending == 0 {
			return nil
		}
	}
}

// LoadPublished returns the last published JSON of each of ids that has one, asking for
// many keys per request.
func (s *Store) LoadPublished(ctx context.Context, ids []string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(ids))
	pre := s.subject(keyPublished)
	for len(ids) > 0 {
		n := min(len(ids), publishedPage)
		want := map[string]string{} // subject → id
		for _, id := range ids[:n] {
			want[pre+taskKey(id)] = id
		}
		ids = ids[n:]
		for len(want) > 0 {
			subjects := make([]string, 0, len(want))
			for subj := range want {
				subjects = append(subjects, subj)
			}
			pending, err := s.directGet(ctx, directReq{MultiLast: subjects}, func(m storedMsg) error {
				id, ok := want[m.subject]
				if !ok {
					return nil
				}
				delete(want, m.subject)
				if m.deleted {
					return nil
				}
				v, err := unpackValue(m.data)
				if err != nil {
					return fmt.Errorf("published task %s: %w", id, err)
				}
				if len(v) > 0 { // empty: too large to keep, see putPublished
					out[id] = v
				}
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("read published tasks: %w", err)
			}
			if pending == 0 || len(want) == len(subjects) { // the rest have no published JSON
				break
			}
		}
	}
	return out, nil
}

// LoadMeta returns the bookkeeping of the last Commit, or zero Meta. It also fixes the
// next outbox sequence: after every sequence the meta or the queues have seen.
func (s *Store) LoadMeta(ctx context.Context) (schema.StateMeta, error) {
	var meta schema.StateMeta
	var next uint64
	e, err := s.kv.Get(ctx, keyMeta)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
	case err != nil:
		return schema.StateMeta{}, fmt.Errorf("read state meta: %w", err)
	default:
		if meta, next, err = decodeMeta(e.Value()); err != nil {
			return schema.StateMeta{}, err
		}
	}
	maxSeq, err := s.maxQueued(ctx)
	if err != nil {
		return schema.StateMeta{}, err
	}
	s.mu.Lock()
	s.nextSeq = max(next, maxSeq+1, 1)
	// A new term starts here: what an earlier term remembered of the queues may be out of
	// date (another relay held the lease meanwhile).
	s.queued = map[string]map[uint64]*qinfo{}
	s.scanned = map[string]uint64{}
	s.purged = map[string]uint64{}
	s.mu.Unlock()
	return meta, nil
}

// maxQueued is the highest outbox sequence any queue holds (0: none).
func (s *Store) maxQueued(ctx context.Context) (uint64, error) {
	counts, err := s.queueSubjects(ctx)
	if err != nil {
		return 0, err
	}
	var top uint64
	for key := range counts {
		if _, seq, _, err := parseQueueKey(key); err == nil {
			top = max(top, seq)
		}
	}
	return top, nil
}

// queueSubjects returns the queue keys in the bucket with their message counts, from the
// stream's subject list (no record is read).
func (s *Store) queueSubjects(ctx context.Context) (map[string]int, error) {
	st, err := s.js.Stream(ctx, s.stream)
	if err != nil {
		return nil, fmt.Errorf("bucket stream: %w", err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(s.subject(keyQueue+">")))
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	out := make(map[string]int, len(info.State.Subjects))
	for subj, n := range info.State.Subjects {
		if n > 0 {
			out[strings.TrimPrefix(subj, s.prefix)] = int(n)
		}
	}
	return out, nil
}

// Pending counts the messages queued per sink.
func (s *Store) Pending(ctx context.Context) (map[string]int, error) {
	keys, err := s.queueSubjects(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for key := range keys {
		sink, _, n, err := parseQueueKey(key)
		if err != nil {
			return nil, err
		}
		out[sink] += n
	}
	return out, nil
}
