package natsresults

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/reten/reten-relay/schema"
)

// Source delivers result messages from a JetStream durable pull consumer. It is safe for
// concurrent use; the relay calls Receive from one loop and settles from many.
type Source struct {
	cfg  Config
	nc   *nats.Conn
	js   jetstream.JetStream
	log  zerolog.Logger
	acks *acker

	mu      sync.Mutex
	stream  string
	cons    jetstream.Consumer
	ackWait time.Duration // the bound consumer's, which may differ from cfg.AckWait
	pull    *pull
	closed  bool
}

// New binds to (or creates) the stream and durable consumer cfg describes, on a connection
// the caller owns and closes after Close. It does not start fetching until Receive.
func New(ctx context.Context, nc *nats.Conn, cfg Config) (*Source, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if nc == nil {
		return nil, fmt.Errorf("%w: nats connection is nil", ErrInvalidConfig)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("open jetstream: %w", err)
	}
	s := &Source{cfg: cfg, nc: nc, js: js, log: cfg.Logger,
		acks: newAcker(nc, cfg.AckBatchWait, cfg.SettleTimeout, cfg.Logger)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.bindLocked(ctx); err != nil {
		return nil, err
	}
	go s.watchBinding(time.Second)
	return s, nil
}

// Stream is the name of the stream the source is bound to.
func (s *Source) Stream() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stream
}

// bindLocked finds or creates the stream and the durable consumer.
func (s *Source) bindLocked(ctx context.Context) error {
	stream, err := ensureStream(ctx, s.js, s.cfg, s.log)
	if err != nil {
		return err
	}
	cons, err := ensureConsumer(ctx, s.js, stream, s.cfg, s.log)
	if err != nil {
		return err
	}
	s.stream, s.cons = stream, cons
	s.ackWait = s.cfg.AckWait
	if info := cons.CachedInfo(); info != nil && info.Config.AckWait > 0 {
		s.ackWait = info.Config.AckWait
	}
	return nil
}

// puller returns the running pull, starting one (and binding again if the consumer was
// lost) when there is none, and the bound consumer's ack wait.
//
// push, when not nil, is what a new pull hands each message to (with the ack wait), instead
// of leaving it for Receive.
func (s *Source) puller(ctx context.Context, push func(jetstream.Msg, time.Duration) bool) (*pull, time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, 0, ErrClosed
	}
	if s.pull != nil {
		return s.pull, s.ackWait, nil
	}
	if s.cons == nil {
		if err := s.bindLocked(ctx); err != nil {
			return nil, 0, err
		}
	}
	// The byte limit keeps big messages from piling up in the pull buffer; it must still
	// fit the largest message the server takes.
	maxBytes := max(s.cfg.FetchMaxBytes, 2*int(s.nc.MaxPayload()))
	var handOver func(jetstream.Msg) bool
	if push != nil {
		ackWait := s.ackWait
		handOver = func(m jetstream.Msg) bool { return push(m, ackWait) }
	}
	p, err := startPull(s.cons, s.cfg.FetchBatch, maxBytes, handOver)
	if err != nil {
		// The consumer may have been deleted behind our back: bind again next time.
		s.cons = nil
		return nil, 0, fmt.Errorf("start pulling from consumer %s: %w", s.cfg.Durable, err)
	}
	s.pull = p
	return p, s.ackWait, nil
}

// dropPull forgets a broken pull so the next Receive binds and pulls afresh.
func (s *Source) dropPull(p *pull) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p.drop()
	if s.pull == p {
		s.pull, s.cons = nil, nil
	}
}

// Receive blocks until a message is there or ctx is done. Every message returned must be
// settled with its Ack or Retry; an unsettled one is redelivered after AckWait.
func (s *Source) Receive(ctx context.Context) (schema.Received, error) {
	p, ackWait, err := s.puller(ctx, nil)
	if err != nil {
		return schema.Received{}, err
	}
	select {
	case msg := <-p.msgs:
		return s.received(msg, ackWait)
	case <-ctx.Done():
		return schema.Received{}, ctx.Err()
	case <-p.stop:
	case <-p.cc.Closed():
	}
	return schema.Received{}, s.pullEnded(p)
}

// Push is Receive turned around, for a caller that would otherwise hand each message from
// the goroutine that calls Receive to another: it calls deliver for each message in the
// pull's own goroutine, one at a time, until ctx is done or the pull ends by itself (then it
// returns why, and the caller may call Push again). deliver may block while the caller has
// no room; when it returns false the message was not taken, the pull asks for nothing more,
// and that message (and any the pull holds) is delivered again after its ack wait. Push
// returns only after the last call of deliver has. Every message taken must be settled like
// one from Receive. A source serves either Push or Receive, not both.
func (s *Source) Push(ctx context.Context, deliver func(schema.Received) bool) error {
	p, _, err := s.puller(ctx, func(m jetstream.Msg, ackWait time.Duration) bool {
		r, err := s.received(m, ackWait)
		if err != nil {
			// Not a JetStream message (no metadata): nothing can settle it.
			s.log.Warn().Err(err).Msg("skipping a message without JetStream metadata")
			return true
		}
		return deliver(r)
	})
	if err != nil {
		return err
	}
	defer p.handedOver() // deliver is never called once Push has returned
	select {
	case <-ctx.Done():
		s.dropPull(p)
		return ctx.Err()
	case <-p.stop: // dropped: Close, or watchBinding found the consumer gone
	case <-p.cc.Closed():
	}
	return s.pullEnded(p)
}

// pullEnded says why p ended without the caller's ctx: ErrClosed after Close, else the
// pull ended by itself (consumer deleted, a reconnect) and is dropped, so the next Receive
// or Push starts over.
func (s *Source) pullEnded(p *pull) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	s.dropPull(p)
	return fmt.Errorf("pull from consumer %s: %w", s.cfg.Durable, p.err())
}

// Close stops fetching and sends the acks still queued (waiting for their confirmation for
// up to SettleTimeout). Messages pulled but not handed out, and unsettled ones, are
// redelivered after AckWait. The connection stays open: it belongs to the caller.
func (s *Source) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	if s.pull != nil {
		s.pull.drop()
		s.pull = nil
	}
	s.mu.Unlock()
	// Acks still queued are sent and confirmed before the connection goes.
	ctx, cancel := context.WithTimeout(ctx, s.cfg.SettleTimeout)
	defer cancel()
	if err := s.acks.close(ctx); err != nil {
		return fmt.Errorf("send the last acks: %w", err)
	}
	return nil
}

// received turns a JetStream message into a schema.Received with its settle funcs.
func (s *Source) received(msg jetstream.Msg, ackWait time.Duration) (schema.Received, error) {
	meta, err := msg.Metadata()
	if err != nil {
		return schema.Received{}, fmt.Errorf("read jetstream metadata of a message on %s: %w", msg.Subject(), err)
	}
	st := &settler{nc: s.nc, acks: s.acks, msg: msg, timeout: s.cfg.SettleTimeout}
	return schema.Received{
		AckWait:        ackWait,
		Body:           msg.Data(),
		Headers:        flatten(msg.Headers()),
		Origin:         schema.Origin{Subject: msg.Subject(), Sequence: meta.Sequence.Stream},
		Deliveries:     int(meta.NumDelivered),
		FirstDelivered: meta.Timestamp,
		Ack:            st.ack,
		Retry:          st.retry,
		InProgress:     st.inProgress,
	}, nil
}

// flatten keeps the first value of every header.
func flatten(h nats.Header) map[string]string {
	if len(h) == 0 {
		return nil
	}
	out := make(map[string]string, len(h))
	for k, v := range h {
		if len(v) > 0 {
			out[k] = v[0]
		}
	}
	return out
}
