package kafkaresults

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/reten/reten-relay/schema"
)

// Source delivers result messages from a Kafka consumer group. It is safe for concurrent
// use; the relay calls Receive from one loop and settles from many.
type Source struct {
	cfg Config
	log zerolog.Logger
	cg  *kafka.ConsumerGroup
	out chan schema.Received // unbuffered: a fetched message waits in its partition's reader

	stop     chan struct{} // closed by Close
	stopOnce sync.Once
	done     chan struct{} // closed when the generation loop has exited
}

// New starts joining the consumer group in the background and returns at once; Receive
// blocks until partitions are assigned and messages arrive. ctx is not kept.
func New(ctx context.Context, cfg Config) (*Source, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	log := cfg.Logger
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                    cfg.Group,
		Brokers:               cfg.Brokers,
		Topics:                []string{cfg.Topic},
		StartOffset:           kafka.FirstOffset,
		HeartbeatInterval:     cfg.HeartbeatInterval,
		SessionTimeout:        cfg.SessionTimeout,
		RebalanceTimeout:      cfg.RebalanceTimeout,
		JoinGroupBackoff:      cfg.JoinGroupBackoff,
		WatchPartitionChanges: true,
		Dialer:                dialer("reten-relay", cfg.TLS, cfg.SASL),
		Logger:                kafka.LoggerFunc(func(f string, a ...any) { log.Debug().Msgf("kafka group: "+f, a...) }),
		ErrorLogger:           kafka.LoggerFunc(func(f string, a ...any) { log.Debug().Msgf("kafka group: "+f, a...) }),
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	s := &Source{cfg: cfg, log: log, cg: cg, out: make(chan schema.Received), stop: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	return s, nil
}

// run takes each generation of the group in turn until Close.
func (s *Source) run() {
	defer close(s.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	var lastErr string
	for {
		gen, err := s.cg.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed) {
				return
			}
			// The group retries by itself (after JoinGroupBackoff); say so once per error.
			if err.Error() != lastErr {
				s.log.Warn().Err(err).Str("group", s.cfg.Group).Msg("kafka results: joining the consumer group failed; retrying")
				lastErr = err.Error()
			}
			continue
		}
		lastErr = ""
		s.serve(gen)
	}
}

// Receive blocks until a message is there or ctx is done. Every message returned must be
// settled with its Ack or Retry.
func (s *Source) Receive(ctx context.Context) (schema.Received, error) {
	select {
	case <-s.stop:
		return schema.Received{}, ErrClosed
	default:
	}
	select {
	case r := <-s.out:
		return r, nil
	case <-ctx.Done():
		return schema.Received{}, ctx.Err()
	case <-s.stop:
		return schema.Received{}, ErrClosed
	}
}

// Close stops fetching, commits what was settled and leaves the group; unsettled messages
// are delivered again to the partitions' next owner. ctx bounds how long Close waits.
func (s *Source) Close(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stop) })
	errc := make(chan error, 1)
	go func() { errc <- s.cg.Close() }()
	select {
	case err := <-errc:
		<-s.done
		if err != nil {
			return fmt.Errorf("leave consumer group %s: %w", s.cfg.Group, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("leave consumer group %s: %w", s.cfg.Group, ctx.Err())
	}
}
