package natsstate

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/reten/reten-relay/schema"
)

// Batch limits. nats-server accepts atomic batches of up to 1000 messages by default
// (jetstream.limits.max_batch_size); the lease write takes one. The byte cap keeps one
// batch's staging on the server small.
const (
	maxBatchMsgs  = 1000
	maxBatchBytes = 8 << 20
	// purgeMarkerTTL is how long the marker of a dropped key stays, where the bucket
	// allows per-message TTLs: long enough for any reader to see it, short enough that
	// dropped tombstones do not pile up as markers.
	purgeMarkerTTL = time.Hour
)

// unit is a group of writes that must land together: a task's snapshot entry, its
// published JSON and the outbox records of its events.
type unit struct {
	msgs  []*nats.Msg
	bytes int
	// events of the unit; their outbox records are made when the unit is placed, so the
	// sequences follow the order in which records reach the stream.
	events []schema.OutboxEvent
}

// Commit writes c as JetStream atomic batches, each fenced by the lease (see Lease). One
// batch holds up to maxBatchMsgs messages, so a large cycle (the first sync of 100,000
// tasks) takes several. Splitting keeps the guarantees because every batch is
// self-consistent: a task's entry, its published JSON and its events' outbox records
// always go in the same batch, and the meta goes in the last one. If only the first
// batches land (the relay dies, or loses the lease, in between), the stored snapshot has
// those tasks' new versions and the outbox their events, and the other tasks still have
// their old versions, so the next cycle finds their changes again and derives the same
// event ids from the same change numbers; nothing is lost and nothing gets a second id.
// The meta (sync flag, delete-guard count) only changes once everything else is stored.
// Outbox sequences are assigned here, in the order the records are written.
func (s *Store) Commit(ctx context.Context, c schema.StateCommit) error {
	if err := s.ensureSeq(ctx); err != nil {
		return err
	}
	units := s.units(c)
	var batch []*nats.Msg
	var queued []queuedRec // records of the batch, to remember where they landed
	bytes := 0
	flush := func(last bool) error {
		if last {
			s.mu.Lock()
			next := s.nextSeq
			s.mu.Unlock()
			batch = append(batch, &nats.Msg{Subject: s.subject(keyMeta), Data: encodeMeta(c.Meta, next)})
		}
		first, err := s.lease.fenced(ctx, batch)
		if err != nil {
			return fmt.Errorf("commit %d entries and %d events: %w", len(c.Entries), len(c.Events), err)
		}
		s.remember(first, queued)
		batch, queued, bytes = nil, nil, 0
		return nil
	}
	for _, u := range units {
		recs := s.queueRecords(u.events)
		n, b := len(u.msgs)+len(recs), u.bytes
		for _, r := range recs {
			b += len(r.msg.Data)
		}
		if len(batch) > 0 && (len(batch)+n+2 > maxBatchMsgs || bytes+b > maxBatchBytes) {
			if err := flush(false); err != nil {
				return err
			}
		}
		batch = append(batch, u.msgs...)
		for _, r := range recs {
			r.index = len(batch)
			queued = append(queued, r)
			batch = append(batch, r.msg)
		}
		bytes += b
	}
	return flush(true)
}

// units groups c's writes by task, in c's order (entries sorted by id), then the drops.
func (s *Store) units(c schema.StateCommit) []*unit {
	byID := make(map[string]*unit, len(c.Entries))
	var out []*unit
	get := func(id string) *unit {
		u := byID[id]
		if u == nil {
			u = &unit{}
			byID[id] = u
			out = append(out, u)
		}
		return u
	}
	add := func(u *unit, m *nats.Msg) {
		u.msgs = append(u.msgs, m)
		u.bytes += len(m.Data) + len(m.Subject)
	}
	for _, e := range c.Entries {
		u := get(e.ID)
		k := taskKey(e.ID)
		add(u, &nats.Msg{Subject: s.subject(keyEntry + k), Data: encodeEntry(e.Entry)})
		switch {
		case e.Entry.Deleted:
			add(u, s.purge(keyPublished+k))
		case e.Published != nil:
			add(u, &nats.Msg{Subject: s.subject(keyPublished + k), Data: packValue(e.Published)})
		}
	}
	for _, ev := range c.Events {
		u := get(ev.Head.TaskID)
		u.events = append(u.events, ev)
	}
	for _, id := range c.Drop {
		u := get(id)
		add(u, s.purge(keyEntry+taskKey(id)))
		add(u, s.purge(keyPublished+taskKey(id)))
	}
	return out
}

// purge is a KV purge of key: the key's values go and one marker stays, which expires
// after purgeMarkerTTL where the bucket allows it.
func (s *Store) purge(key string) *nats.Msg {
	m := &nats.Msg{Subject: s.subject(key), Header: header("KV-Operation", "PURGE", jetstream.MsgRollup, jetstream.MsgRollupSubject)}
	if s.ttl {
		m.Header.Set(jetstream.MsgTTLHeader, purgeMarkerTTL.String())
	}
	return m
}

// queuedRec is one outbox record on its way into a batch.
type queuedRec struct {
	msg   *nats.Msg
	sink  string
	seq   uint64
	n     int
	index int // position in the batch
}

// queueRecords gives each event the next outbox sequence and makes one record per sink
// it goes to.
func (s *Store) queueRecords(events []schema.OutboxEvent) []queuedRec {
	var out []queuedRec
	for _, ev := range events {
		s.mu.Lock()
		seq := s.nextSeq
		s.nextSeq++
		s.mu.Unlock()
		bySink := map[string][]indexedTarget{}
		var order []string
		for n, t := range ev.Targets {
			if _, ok := bySink[t.Sink]; !ok {
				order = append(order, t.Sink)
			}
			bySink[t.Sink] = append(bySink[t.Sink], indexedTarget{QueuedTarget: t, n: uint16(n)})
		}
		for _, sink := range order {
			ts := bySink[sink]
			out = append(out, queuedRec{
				msg:  &nats.Msg{Subject: s.subject(queueKey(sink, seq, len(ts))), Data: encodeQueued(ev.Head, ev.Body, ts)},
				sink: sink, seq: seq, n: len(ts),
			})
		}
	}
	return out
}

// remember notes where a batch's outbox records landed, so Outbox and Ack find them
// without a lookup.
func (s *Store) remember(first uint64, recs []queuedRec) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		q := s.queued[r.sink]
		if q == nil {
			q = map[uint64]*qinfo{}
			s.queued[r.sink] = q
		}
		q[r.seq] = &qinfo{streamSeq: first + uint64(r.index), n: r.n}
	}
}

// ensureSeq loads the next outbox sequence if LoadMeta has not.
func (s *Store) ensureSeq(ctx context.Context) error {
	s.mu.Lock()
	loaded := s.nextSeq != 0
	s.mu.Unlock()
	if loaded {
		return nil
	}
	_, err := s.LoadMeta(ctx)
	return err
}

// batchAck is the server's answer to an atomic batch's commit.
type batchAck struct {
	Error *jetstream.APIError `json:"error,omitempty"`
	Seq   uint64              `json:"seq"`
	Count int                 `json:"count"`
}

// sendBatch publishes msgs as one atomic batch and returns the stream sequence of the
// first: either all of them are stored, consecutively, or none. nats.go's jetstream
// package has no atomic batch publish yet, so this speaks the protocol: every message
// carries Nats-Batch-Id and Nats-Batch-Sequence, the last also Nats-Batch-Commit, and
// only the last asks for an answer (the server answers an earlier one only to refuse it,
// which then fails the commit as well).
func (s *Store) sendBatch(ctx context.Context, msgs []*nats.Msg) (uint64, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, readTimeout)
		defer cancel()
	}
	id := nuid.Next()
	for i, m := range msgs {
		if m.Header == nil {
			m.Header = nats.Header{}
		}
		m.Header.Set("Nats-Batch-Id", id)
		m.Header.Set("Nats-Batch-Sequence", strconv.Itoa(i+1))
		if i < len(msgs)-1 {
			if err := s.nc.PublishMsg(m); err != nil {
				return 0, fmt.Errorf("batch publish: %w", err)
			}
		}
	}
	last := msgs[len(msgs)-1]
	last.Header.Set("Nats-Batch-Commit", "1")
	resp, err := s.nc.RequestMsgWithContext(ctx, last)
	if err != nil {
		return 0, fmt.Errorf("batch commit: %w", err)
	}
	var ack batchAck
	if err := json.Unmarshal(resp.Data, &ack); err != nil {
		return 0, fmt.Errorf("batch commit: undecodable answer: %w", err)
	}
	if ack.Error != nil {
		return 0, fmt.Errorf("batch commit: %w", ack.Error)
	}
	if ack.Count != len(msgs) {
		return 0, fmt.Errorf("batch commit: %d of %d messages stored", ack.Count, len(msgs))
	}
	return ack.Seq - uint64(ack.Count) + 1, nil
}
