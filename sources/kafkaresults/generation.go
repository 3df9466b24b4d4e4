package kafkaresults

import (
	"context"
	"errors"
	"io"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/reten/reten-relay/schema"
)

// generation is one generation of the consumer group: the partitions it assigned us.
type generation struct {
	gen   *kafka.Generation
	parts map[int]*partition
	dirty chan struct{} // a commit mark moved
	// ctx is done once the generation ended and its last commit was made.
	ctx    context.Context
	cancel context.CancelFunc
}

// serve starts a reader per assigned partition and the committer. They run until the
// generation ends; the group waits for them before it joins the next one.
func (s *Source) serve(gen *kafka.Generation) {
	ctx, cancel := context.WithCancel(context.Background())
	g := &generation{gen: gen, parts: map[int]*partition{}, dirty: make(chan struct{}, 1), ctx: ctx, cancel: cancel}
	assigned := gen.Assignments[s.cfg.Topic]
	ids := make([]int, 0, len(assigned))
	for _, a := range assigned {
		p := newPartition(a.ID, s.cfg.MaxInFlight)
		g.parts[a.ID] = p
		ids = append(ids, a.ID)
		offset := a.Offset
		gen.Start(func(ctx context.Context) { s.readPartition(ctx, g, p, offset) })
	}
	slices.Sort(ids)
	s.log.Info().Str("group", s.cfg.Group).Str("topic", s.cfg.Topic).Int32("generation", gen.ID).Ints("partitions", ids).
		Msg("kafka results: partitions assigned")
	gen.Start(func(ctx context.Context) { s.commitLoop(ctx, g) })
}

// readPartition fetches one partition from offset, pausing while MaxInFlight of its
// messages are unsettled.
func (s *Source) readPartition(ctx context.Context, g *generation, p *partition, offset int64) {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:        s.cfg.Brokers,
		Topic:          s.cfg.Topic,
		Partition:      p.id,
		MinBytes:       1,
		MaxBytes:       10 << 20,
		MaxWait:        s.cfg.MaxWait,
		QueueCapacity:  s.cfg.MaxInFlight,
		ReadBackoffMin: 100 * time.Millisecond,
		ReadBackoffMax: time.Second,
		Dialer:         dialer("reten-relay", s.cfg.TLS, s.cfg.SASL),
	})
	defer r.Close()
	if err := r.SetOffset(offset); err != nil {
		s.log.Error().Err(err).Int("partition", p.id).Int64("offset", offset).Msg("kafka results: cannot start reading partition")
		return
	}
	for {
		select {
		case p.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) {
				return
			}
			<-p.slots
			s.log.Warn().Err(err).Int("partition", p.id).Msg("kafka results: fetch failed; retrying")
			if schema.Sleep(ctx, time.Second) != nil {
				return
			}
			continue
		}
		if !p.fetched(m.Offset) {
			return
		}
		select {
		case s.out <- s.received(g, p, m, 1, time.Now()):
		case <-ctx.Done():
			return
		}
	}
}

// commitLoop commits the partitions' marks whenever one moves, and a last time when the
// generation ends. Partitions are revoked before that last commit, so every Ack that
// returned nil is in it.
func (s *Source) commitLoop(ctx context.Context, g *generation) {
	defer g.cancel()
	var retry <-chan time.Time
	for {
		select {
		case <-g.dirty:
		case <-retry:
		case <-ctx.Done():
			for _, p := range g.parts {
				p.revoke()
			}
			s.commit(g)
			return
		}
		retry = nil
		if !s.commit(g) {
			retry = time.After(time.Second)
		}
	}
}

// commit commits every mark that moved; it reports false when the commit failed.
func (s *Source) commit(g *generation) bool {
	offsets := map[int]int64{}
	for id, p := range g.parts {
		if mark, ok := p.toCommit(); ok {
			offsets[id] = mark
		}
	}
	if len(offsets) == 0 {
		return true
	}
	if err := g.gen.CommitOffsets(map[string]map[int]int64{s.cfg.Topic: offsets}); err != nil {
		s.log.Warn().Err(err).Str("group", s.cfg.Group).Int32("generation", g.gen.ID).Msg("kafka results: committing offsets failed; the messages may be delivered again")
		return false
	}
	for id, mark := range offsets {
		g.parts[id].didCommit(mark)
	}
	return true
}
