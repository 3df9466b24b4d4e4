// Package kafkaresults reads result messages from a Kafka topic with a consumer group
// (kafka-go Reader). A new group starts at the earliest offset, so nothing produced before
// the relay's first start is skipped.
//
// Offsets are committed only up to the last message whose outcome is final, in order per
// partition: a message settled out of order waits until every earlier one of its partition
// is settled, so a crash redelivers every unsettled message (at least once).
//
// Retry keeps the message in memory and delivers it again after the delay (its offset is not
// committed meanwhile, so a crash redelivers it from the broker anyway), while the
// partition's later messages keep flowing: a waiting message does not hold back the others.
// Trade-off: kafka-go's group Reader merges partitions into one stream and cannot pause one
// of them, so MaxInFlight bounds the unsettled messages of all partitions together; only when
// that many are waiting does fetching stop. Kafka has no delivery count: Deliveries counts
// this process's deliveries, and FirstDelivered is when this process first fetched it.
package kafkaresults

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/reten/reten-relay/schema"
)

// ErrClosed is returned by Receive after Close.
var ErrClosed = errors.New("kafkaresults: source closed")

// Config configures a Source.
type Config struct {
	// Brokers are the bootstrap addresses. Required.
	Brokers []string
	// Topic is the results topic. Required.
	Topic string
	// Group is the consumer group. Default: reten-relay.
	Group string
	// MaxInFlight bounds unsettled messages; fetching waits beyond it. Default: 256.
	MaxInFlight int
	// SessionTimeout of the group membership. Default: 10s.
	SessionTimeout time.Duration
	// Logger reports commit failures and rebalances. Default: zerolog.Nop().
	Logger zerolog.Logger
}

// Source delivers result messages; it satisfies relay.ResultSource.
type Source struct {
	cfg    Config
	r      *kafka.Reader
	log    zerolog.Logger
	slots  chan struct{} // one per unsettled message
	out    chan schema.Received
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	parts  map[int]*partition
	closed bool
}

// partition tracks what of one partition is settled.
type partition struct {
	next    int64 // lowest offset not yet settled, -1 before the first message
	settled map[int64]bool
}

// New joins the group and starts fetching.
func New(ctx context.Context, cfg Config) (*Source, error) {
	if len(cfg.Brokers) == 0 || cfg.Topic == "" {
		return nil, errors.New("kafkaresults: brokers and topic are required")
	}
	if cfg.Group == "" {
		cfg.Group = "reten-relay"
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 256
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 10 * time.Second
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:           cfg.Brokers,
		GroupID:           cfg.Group,
		Topic:             cfg.Topic,
		StartOffset:       kafka.FirstOffset,
		MinBytes:          1,
		MaxBytes:          10 << 20,
		MaxWait:           250 * time.Millisecond,
		CommitInterval:    0, // synchronous commits: an offset is committed when we say so
		HeartbeatInterval: time.Second,
		SessionTimeout:    cfg.SessionTimeout,
		RebalanceTimeout:  cfg.SessionTimeout,
		JoinGroupBackoff:  200 * time.Millisecond,
		ReadBackoffMin:    50 * time.Millisecond,
		ReadBackoffMax:    time.Second,
	})
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Source{
		cfg: cfg, r: r, log: cfg.Logger, slots: make(chan struct{}, cfg.MaxInFlight),
		out: make(chan schema.Received), cancel: cancel, done: make(chan struct{}), parts: map[int]*partition{},
	}
	go s.fetch(fctx)
	return s, nil
}

// fetch reads messages into out, at most MaxInFlight unsettled at a time.
func (s *Source) fetch(ctx context.Context) {
	defer close(s.done)
	for {
		select {
		case s.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		m, err := s.r.FetchMessage(ctx)
		if err != nil {
			<-s.slots
			if ctx.Err() != nil || errors.Is(err, io.EOF) {
				return
			}
			s.log.Warn().Err(err).Msg("kafka results: fetch failed; retrying")
			t := time.NewTimer(time.Second)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		s.track(m)
		r := s.received(m, 1, time.Now())
		select {
		case s.out <- r:
		case <-ctx.Done():
			return
		}
	}
}

// track notes the first offset of a partition.
func (s *Source) track(m kafka.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.parts[m.Partition]
	if p == nil || m.Offset < p.next {
		// A new partition, or one handed back to us by a rebalance from its committed offset.
		p = &partition{next: m.Offset, settled: map[int64]bool{}}
		s.parts[m.Partition] = p
	}
}

// received wraps a record; Ack commits in order, Retry delivers it again later.
func (s *Source) received(m kafka.Message, deliveries int, first time.Time) schema.Received {
	r := schema.Received{
		Body: m.Value, Key: string(m.Key), Deliveries: deliveries, FirstDelivered: first,
		Origin: schema.Origin{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset},
	}
	if len(m.Headers) > 0 {
		r.Headers = make(map[string]string, len(m.Headers))
		for _, h := range m.Headers {
			r.Headers[h.Key] = string(h.Value)
		}
	}
	var once sync.Once
	r.Ack = func(ctx context.Context) error {
		var err error
		once.Do(func() {
			err = s.settle(ctx, m)
			<-s.slots
		})
		return err
	}
	r.Retry = func(_ context.Context, delay time.Duration) error {
		time.AfterFunc(delay, func() {
			again := s.received(m, deliveries+1, first)
			select {
			case s.out <- again:
			case <-s.done:
			}
		})
		return nil
	}
	return r
}

// settle marks an offset final and commits the contiguous prefix of its partition.
func (s *Source) settle(ctx context.Context, m kafka.Message) error {
	s.mu.Lock()
	p := s.parts[m.Partition]
	if p == nil || m.Offset < p.next {
		s.mu.Unlock()
		return nil // already committed, or the partition moved to another member
	}
	p.settled[m.Offset] = true
	advanced := false
	for p.settled[p.next] {
		delete(p.settled, p.next)
		p.next++
		advanced = true
	}
	commit := kafka.Message{Topic: m.Topic, Partition: m.Partition, Offset: p.next - 1}
	s.mu.Unlock()
	if !advanced {
		return nil
	}
	if err := s.r.CommitMessages(ctx, commit); err != nil {
		return fmt.Errorf("kafkaresults: commit %s/%d@%d: %w", commit.Topic, commit.Partition, commit.Offset, err)
	}
	return nil
}

// Receive blocks until a message is there or ctx is done.
func (s *Source) Receive(ctx context.Context) (schema.Received, error) {
	select {
	case r := <-s.out:
		return r, nil
	case <-ctx.Done():
		return schema.Received{}, ctx.Err()
	case <-s.done:
		return schema.Received{}, ErrClosed
	}
}

// Close leaves the group; unsettled messages are delivered again to the next member.
func (s *Source) Close(context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	<-s.done
	return s.r.Close()
}
