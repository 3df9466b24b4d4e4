// Package natsresults reads result messages from a JetStream durable pull consumer.
//
// Where a stream already captures the result subjects the source binds to it and never
// changes its configuration; it creates a stream only when none does. The same for the
// durable consumer. Acks are double acks (confirmed by the server), Retry is NakWithDelay,
// and InProgress extends the ack wait of a message held for long.
package natsresults

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/reten/reten-relay/schema"
)

// ErrClosed is returned by Receive after Close.
var ErrClosed = errors.New("natsresults: source closed")

// Config configures a Source.
type Config struct {
	// Stream is the name of the stream to create when none captures Subjects.
	// Default: RETEN_RESULTS.
	Stream string
	// Subjects are the result subjects, wildcards allowed. Required.
	Subjects []string
	// Durable is the durable consumer's name. Default: reten-relay.
	Durable string
	// AckWait is how long the server waits for an ack before redelivering. Default: 30s.
	AckWait time.Duration
	// MaxAckPending bounds unacknowledged messages. Default: 256.
	MaxAckPending int
	// Logger says what was bound or created. Default: zerolog.Nop().
	Logger zerolog.Logger
}

// Source delivers result messages; it satisfies relay.ResultSource.
type Source struct {
	cfg      Config
	consumer jetstream.Consumer
	log      zerolog.Logger

	mu     sync.Mutex
	iter   jetstream.MessagesContext
	closed bool
}

// New binds to (or creates) the stream and the durable consumer on an existing connection.
func New(ctx context.Context, nc *nats.Conn, cfg Config) (*Source, error) {
	if cfg.Stream == "" {
		cfg.Stream = "RETEN_RESULTS"
	}
	if cfg.Durable == "" {
		cfg.Durable = "reten-relay"
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = 30 * time.Second
	}
	if cfg.MaxAckPending <= 0 {
		cfg.MaxAckPending = 256
	}
	if len(cfg.Subjects) == 0 {
		return nil, errors.New("natsresults: no subjects")
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("natsresults: %w", err)
	}
	stream, err := bindStream(ctx, js, cfg)
	if err != nil {
		return nil, err
	}
	consumer, err := bindConsumer(ctx, stream, cfg)
	if err != nil {
		return nil, err
	}
	return &Source{cfg: cfg, consumer: consumer, log: cfg.Logger}, nil
}

// bindStream finds the stream capturing the subjects, or creates one.
func bindStream(ctx context.Context, js jetstream.JetStream, cfg Config) (jetstream.Stream, error) {
	name, err := js.StreamNameBySubject(ctx, cfg.Subjects[0])
	switch {
	case err == nil:
		s, err := js.Stream(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("natsresults: stream %s: %w", name, err)
		}
		cfg.Logger.Info().Str("stream", name).Strs("subjects", cfg.Subjects).Msg("results: bound to existing stream (its configuration is left as it is)")
		return s, nil
	case errors.Is(err, jetstream.ErrStreamNotFound):
		s, err := js.CreateStream(ctx, jetstream.StreamConfig{
			Name: cfg.Stream, Subjects: cfg.Subjects, Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute,
		})
		if err != nil {
			return nil, fmt.Errorf("natsresults: create stream %s for %v: %w", cfg.Stream, cfg.Subjects, err)
		}
		cfg.Logger.Info().Str("stream", cfg.Stream).Strs("subjects", cfg.Subjects).Msg("results: no stream captured the subjects; created one")
		return s, nil
	default:
		return nil, fmt.Errorf("natsresults: look up the stream of %s: %w", cfg.Subjects[0], err)
	}
}

// bindConsumer binds to the durable consumer, or creates it.
func bindConsumer(ctx context.Context, stream jetstream.Stream, cfg Config) (jetstream.Consumer, error) {
	name := stream.CachedInfo().Config.Name
	c, err := stream.Consumer(ctx, cfg.Durable)
	if err == nil {
		cfg.Logger.Info().Str("stream", name).Str("durable", cfg.Durable).Msg("results: bound to existing durable consumer")
		return c, nil
	}
	if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("natsresults: consumer %s: %w", cfg.Durable, err)
	}
	cc := jetstream.ConsumerConfig{
		Durable:       cfg.Durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		MaxAckPending: cfg.MaxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	if len(cfg.Subjects) == 1 {
		cc.FilterSubject = cfg.Subjects[0]
	} else {
		cc.FilterSubjects = cfg.Subjects
	}
	c, err = stream.CreateOrUpdateConsumer(ctx, cc)
	if err != nil {
		return nil, fmt.Errorf("natsresults: create consumer %s: %w", cfg.Durable, err)
	}
	cfg.Logger.Info().Str("stream", name).Str("durable", cfg.Durable).Msg("results: created durable consumer")
	return c, nil
}

// iterator returns the message iterator, (re)creating it when needed.
func (s *Source) iterator() (jetstream.MessagesContext, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if s.iter == nil {
		it, err := s.consumer.Messages(jetstream.PullMaxMessages(64))
		if err != nil {
			return nil, fmt.Errorf("natsresults: pull: %w", err)
		}
		s.iter = it
	}
	return s.iter, nil
}

func (s *Source) resetIterator(it jetstream.MessagesContext) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.iter == it {
		it.Stop()
		s.iter = nil
	}
}

// Receive blocks until a message is there or ctx is done.
func (s *Source) Receive(ctx context.Context) (schema.Received, error) {
	for {
		it, err := s.iterator()
		if err != nil {
			return schema.Received{}, err
		}
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err == nil {
			return s.received(msg), nil
		}
		if ctx.Err() != nil {
			return schema.Received{}, ctx.Err()
		}
		// A heartbeat error (server gone) or a closed iterator: start a new pull after a pause,
		// so a server restart does not end consumption.
		s.resetIterator(it)
		s.mu.Lock()
		closed := s.closed
		s.mu.Unlock()
		if closed {
			return schema.Received{}, ErrClosed
		}
		s.log.Debug().Err(err).Msg("results: pull interrupted; pulling again")
		t := time.NewTimer(250 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return schema.Received{}, ctx.Err()
		case <-t.C:
		}
	}
}

// received wraps a JetStream message.
func (s *Source) received(msg jetstream.Msg) schema.Received {
	r := schema.Received{Body: msg.Data(), Deliveries: 1, Origin: schema.Origin{Subject: msg.Subject()}}
	if md, err := msg.Metadata(); err == nil {
		r.Deliveries = int(md.NumDelivered)
		r.Origin.Sequence = md.Sequence.Stream
		// The time the message was stored: a stand-in for its first delivery, which is
		// close to it while the relay keeps up.
		r.FirstDelivered = md.Timestamp
	}
	if h := msg.Headers(); len(h) > 0 {
		r.Headers = make(map[string]string, len(h))
		for k, v := range h {
			if len(v) > 0 {
				r.Headers[k] = v[0]
			}
		}
	}
	r.Ack = func(ctx context.Context) error { return msg.DoubleAck(ctx) }
	r.Retry = func(_ context.Context, delay time.Duration) error { return msg.NakWithDelay(delay) }
	r.InProgress = func(context.Context) error { return msg.InProgress() }
	return r
}

// Close stops pulling; unacknowledged messages are redelivered after their ack wait.
func (s *Source) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.iter != nil {
		s.iter.Stop()
		s.iter = nil
	}
	return nil
}
