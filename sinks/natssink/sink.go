// Package natssink publishes messages to NATS. Where a subject goes is natsstreams'
// decision: a subject a JetStream stream captures (an existing one, or one the sink
// created for a declared need) is published with async JetStream publishes whose PubAcks
// are awaited (Nats-Msg-Id, "<id>/<route>", makes re-publishes idempotent within the
// stream's duplicate window); only a need that allows it goes out as core NATS with a
// flush, which is at-most-once for subscribers that are not connected.
package natssink

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/sinks/natsstreams"
)

// Sink publishes to NATS. It satisfies relay.Sink and is safe for concurrent use.
type Sink struct {
	cfg     Config
	log     zerolog.Logger
	nc      *nats.Conn
	ownConn bool
	acks    *ackWaiter // PubAcks of JetStream publishes
	streams *natsstreams.Set
	// advisories reset the stream decisions when a stream is created, changed or deleted.
	advisories []*nats.Subscription

	mu        sync.Mutex // guards closed and the wg.Add in enter
	closed    bool
	inflight  sync.WaitGroup
	closeOnce sync.Once
	closeDone chan struct{}
	closeErr  error
}

// How a subject is published, as Mode reports it.
const (
	// ModeJetStream means a stream captures the subject: async publish, wait for PubAcks.
	ModeJetStream = "jetstream"
	// ModeCore means no stream captures it and its need allows core NATS: publish and
	// flush, at-most-once.
	ModeCore = "core"
)

// New connects to cfg.URL (or uses WithConn's connection). It creates no stream: the
// first Publish ensures cfg.Streams (the app ensures them all at start-up first).
func New(_ context.Context, cfg Config, opts ...Option) (*Sink, error) {
	o := options{logger: zerolog.Nop()}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if o.conn == nil && cfg.URL == "" {
		return nil, fmt.Errorf("%w: url is required", ErrInvalidConfig)
	}
	s := &Sink{cfg: cfg, log: o.logger, nc: o.conn, closeDone: make(chan struct{})}
	if s.nc == nil {
		nc, err := s.connect(o.extra...)
		if err != nil {
			return nil, err
		}
		s.nc, s.ownConn = nc, true
	}
	js, err := jetstream.New(s.nc)
	if err != nil {
		s.closeConn()
		return nil, fmt.Errorf("create jetstream context: %w", err)
	}
	s.streams = natsstreams.NewSet(s.nc, js, cfg.Streams, cfg.Limits, cfg.ClassifyTTL, s.log)
	if s.advisories, err = s.streams.WatchAdvisories(); err != nil {
		s.closeConn()
		return nil, err
	}
	if s.acks, err = newAckWaiter(s.nc); err != nil {
		for _, sub := range s.advisories {
			_ = sub.Unsubscribe()
		}
		s.closeConn()
		return nil, err
	}
	return s, nil
}

// connect dials cfg.URL. It reconnects forever, and with no reconnect buffer: a publish
// while disconnected fails at once instead of sitting in a buffer we might lose.
func (s *Sink) connect(extra ...nats.Option) (*nats.Conn, error) {
	nc, err := nats.Connect(s.cfg.URL, append([]nats.Option{
		nats.Name(s.cfg.Name),
		// nats.go's 2s dial timeout includes the TLS handshake, which a loaded machine can
		// exceed; a broker that is not there still fails at once (connection refused).
		nats.Timeout(5 * time.Second),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(s.cfg.ReconnectWait),
		nats.ReconnectBufSize(-1),
		// Without it nats.go closes the connection for good after two authorization
		// failures in a row while reconnecting: credentials rotated on the server a little
		// before the relay's, and the relay would need a restart.
		nats.IgnoreAuthErrorAbort(),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: we closed it ourselves
				s.log.Warn().Err(err).Msg("nats sink disconnected")
			}
		}),
		// Without a handler nats.go prints async errors (an authorization violation
		// after a reconnect, say) to stderr, past the logger.
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			s.log.Warn().Err(err).Msg("nats sink: asynchronous error")
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			s.log.Info().Str("server", nc.ConnectedUrlRedacted()).Msg("nats sink reconnected")
		})}, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err) // the caller names the server
	}
	return nc, nil
}

// RedactURL hides passwords in a comma-separated NATS URL list, so errors and logs never
// carry one.
func RedactURL(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil {
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}

// Conn is the connection the sink publishes on, for sharing with a results consumer.
func (s *Sink) Conn() *nats.Conn { return s.nc }

// Connected reports whether the connection is up, for readiness.
func (s *Sink) Connected() bool { return s.nc.IsConnected() }

// Mode says how subject is published now, from memory: ModeJetStream, ModeCore, or ""
// when the sink holds no fresh stream decisions (none yet, or after a fault).
func (s *Sink) Mode(subject string) string {
	t, ok := s.streams.Peek(subject)
	switch {
	case !ok:
		return ""
	case t.Stream == "":
		return ModeCore
	}
	return ModeJetStream
}

// SetStreams replaces Config.Streams, e.g. after a config reload changed the routes; the
// next Publish ensures them.
func (s *Sink) SetStreams(needs []natsstreams.Need) { s.streams.SetNeeds(needs) }

// Decisions are the stream decisions the sink holds now (see natsstreams.Decision).
func (s *Sink) Decisions() []natsstreams.Decision { return s.streams.Decisions() }

// Publish sends msgs in order and returns nil only when every one is confirmed: by a
// PubAck on JetStream subjects, by a flush on core subjects. It returns ErrClosed after
// Close. A ctx without deadline gets Config.PublishTimeout.
func (s *Sink) Publish(ctx context.Context, msgs []schema.Message) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.inflight.Done()
	if len(msgs) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("publish to nats: %w", err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.PublishTimeout)
		defer cancel()
	}
	// A batch has few subjects (a route's template over a few task fields): each is
	// classified once, not once per message (a lock, a clock read and a match each).
	// Bounded, for templates with a task's own value in them.
	const maxModes = 64
	var modes map[string]bool // nil for a one-message publish (a dead letter): nothing to reuse
	jetStream := func(subject string) (bool, error) {
		if jet, ok := modes[subject]; ok {
			return jet, nil
		}
		jet, err := s.jetStream(ctx, subject)
		if err == nil && len(modes) < maxModes && len(msgs) > 1 {
			if modes == nil {
				modes = make(map[string]bool, 8)
			}
			modes[subject] = jet
		}
		return jet, err
	}
	for start := 0; start < len(msgs); {
		jet, err := jetStream(msgs[start].Destination)
		if err != nil {
			return err
		}
		// A run is consecutive messages of one mode, at most MaxInFlight long; runs go
		// one after the other so the batch keeps its order.
		end := start + 1
		for end < len(msgs) && end-start < s.cfg.MaxInFlight {
			next, err := jetStream(msgs[end].Destination)
			if err != nil {
				return err
			}
			if next != jet {
				break
			}
			end++
		}
		if jet {
			err = s.publishJetStream(ctx, msgs[start:end])
		} else {
			err = s.publishCore(ctx, msgs[start:end])
		}
		if err != nil {
			return err
		}
		start = end
	}
	return nil
}

// jetStream classifies subject: true when a stream captures it.
func (s *Sink) jetStream(ctx context.Context, subject string) (bool, error) {
	t, err := s.streams.Classify(ctx, subject)
	if err != nil {
		if !s.nc.IsConnected() {
			err = fmt.Errorf("%w: %w", ErrNotConnected, err)
		}
		return false, fmt.Errorf("publish to nats subject %s: %w", subject, err)
	}
	return t.Stream != "", nil
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

// Close stops new publishes, waits for those in flight (bounded by ctx), flushes and,
// when the sink dialed the connection itself, closes it. Later calls return the first
// call's result.
func (s *Sink) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		defer close(s.closeDone)
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		var errs []error
		waited := make(chan struct{})
		go func() { s.inflight.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("close nats sink: wait for in-flight publishes: %w", ctx.Err()))
		}
		for _, sub := range s.advisories {
			_ = sub.Unsubscribe()
		}
		s.acks.close()
		if s.nc.IsConnected() {
			fctx, cancel := ctx, context.CancelFunc(func() {})
			if _, ok := ctx.Deadline(); !ok {
				fctx, cancel = context.WithTimeout(ctx, s.cfg.PublishTimeout)
			}
			if err := s.nc.FlushWithContext(fctx); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
				errs = append(errs, fmt.Errorf("close nats sink: flush: %w", err))
			}
			cancel()
		}
		s.closeConn()
		s.closeErr = errors.Join(errs...)
	})
	select {
	case <-s.closeDone:
		return s.closeErr
	case <-ctx.Done():
		return fmt.Errorf("close nats sink: %w", ctx.Err())
	}
}

func (s *Sink) closeConn() {
	if s.ownConn {
		s.nc.Close()
	}
}
