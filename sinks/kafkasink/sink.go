// Package kafkasink publishes messages to Kafka with a kafka-go Writer that waits for
// every in-sync replica (RequiredAcks all). The record key is the message key (the task
// id) and the hash balancer maps a key to one partition, so each task's messages keep
// their order.
package kafkasink

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/reten/reten-relay/schema"
)

// Header names the sink sets on every record.
const (
	// HeaderID carries schema.Message.ID (CloudEvents Kafka binding name).
	HeaderID = "ce_id"
	// HeaderContentType is set to application/json unless the message has its own.
	HeaderContentType = "content-type"
)

// Sink publishes to Kafka. It satisfies relay.Sink and is safe for concurrent use.
type Sink struct {
	cfg       Config
	log       zerolog.Logger
	transport *kafka.Transport
	writer    *kafka.Writer
	client    *kafka.Client

	mu        sync.Mutex // guards closed and the wg.Add in enter
	closed    bool
	inflight  sync.WaitGroup
	closeOnce sync.Once
	closeDone chan struct{}
	closeErr  error
}

// Option injects a dependency into New.
type Option func(*Sink) error

// WithLogger sets the logger. Default: zerolog.Nop().
func WithLogger(l zerolog.Logger) Option {
	return func(s *Sink) error {
		s.log = l
		return nil
	}
}

// New builds a sink for cfg.Brokers. It does not dial: the first Publish or EnsureTopics
// does. ctx is unused today and kept so New can check the cluster later without an API
// change.
func New(_ context.Context, cfg Config, opts ...Option) (*Sink, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	s := &Sink{cfg: cfg, log: zerolog.Nop(), closeDone: make(chan struct{})}
	for _, opt := range opts {
		if err := opt(s); err != nil {
			return nil, err
		}
	}
	s.transport = &kafka.Transport{ClientID: cfg.ClientID, MetadataTTL: cfg.MetadataTTL, TLS: cfg.TLS, SASL: cfg.SASL}
	addr := kafka.TCP(cfg.Brokers...)
	s.writer = &kafka.Writer{
		Addr:         addr,
		Balancer:     &kafka.Hash{},
		MaxAttempts:  cfg.MaxAttempts,
		BatchSize:    cfg.BatchSize,
		BatchTimeout: cfg.BatchTimeout,
		RequiredAcks: kafka.RequireAll,
		Transport:    s.transport,
	}
	s.client = &kafka.Client{Addr: addr, Transport: s.transport}
	return s, nil
}

// Publish writes msgs, each to its Destination topic, and returns nil only when every
// one was acknowledged by all in-sync replicas. When some failed it returns a *WriteError
// naming them. It returns ErrClosed after Close. A ctx without deadline gets
// Config.PublishTimeout.
func (s *Sink) Publish(ctx context.Context, msgs []schema.Message) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.inflight.Done()
	if len(msgs) == 0 {
		return nil
	}
	// Checked first: kafka-go may finish a batch before it notices ctx is done.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("publish to kafka: %w", err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.PublishTimeout)
		defer cancel()
	}
	records := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		records[i] = toRecord(m)
	}
	err := s.writer.WriteMessages(ctx, records...)
	var werrs kafka.WriteErrors
	switch {
	case err == nil:
		return nil
	case errors.As(err, &werrs):
		we := &WriteError{Total: len(msgs)}
		for i, e := range werrs {
			if e != nil {
				we.Failed = append(we.Failed, FailedMessage{ID: msgs[i].ID, Topic: msgs[i].Destination, Err: e})
			}
		}
		return we
	default:
		return fmt.Errorf("publish %d messages to kafka: %w", len(msgs), err)
	}
}

// toRecord turns m into a record: key, body, m's headers as given (sorted, so records
// are reproducible), ce_id and a JSON content type unless m has one. The key and the
// header values share one allocation: a record per event of a first sync, each with
// seven headers, made eight small allocations per message.
func toRecord(m schema.Message) kafka.Message {
	r := kafka.Message{Topic: m.Destination, Value: m.Body}
	var names [8]string // the event headers fit; more go to the heap
	sorted := names[:0]
	size := len(m.Key) + len(m.ID) + len("application/json")
	for k, v := range m.Headers {
		sorted = append(sorted, k)
		size += len(v)
	}
	slices.Sort(sorted)
	block := make([]byte, 0, size)
	bytesOf := func(s string) []byte {
		n := len(block)
		block = append(block, s...)
		return block[n:len(block):len(block)]
	}
	if m.Key != "" {
		r.Key = bytesOf(m.Key)
	}
	r.Headers = make([]kafka.Header, 0, len(sorted)+2)
	if m.ID != "" {
		r.Headers = append(r.Headers, kafka.Header{Key: HeaderID, Value: bytesOf(m.ID)})
	}
	for _, k := range sorted {
		if k == HeaderID && m.ID != "" {
			continue
		}
		r.Headers = append(r.Headers, kafka.Header{Key: k, Value: bytesOf(m.Headers[k])})
	}
	if _, ok := m.Headers[HeaderContentType]; !ok {
		r.Headers = append(r.Headers, kafka.Header{Key: HeaderContentType, Value: bytesOf("application/json")})
	}
	return r
}

// enter registers a Publish unless the sink is closed (kafka-go's enter/leave guard).
func (s *Sink) enter() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.inflight.Add(1)
	return nil
}

// Close stops new publishes, waits for those in flight, flushes the writer and closes
// its connections, all bounded by ctx. Later calls return the first call's result.
func (s *Sink) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		go func() {
			defer close(s.closeDone)
			s.inflight.Wait()
			err := s.writer.Close()
			s.transport.CloseIdleConnections()
			if err != nil {
				err = fmt.Errorf("close kafka sink: %w", err)
			}
			s.closeErr = err
		}()
	})
	select {
	case <-s.closeDone:
		return s.closeErr
	case <-ctx.Done():
		return fmt.Errorf("close kafka sink: wait for in-flight publishes and flush: %w", ctx.Err())
	}
}
