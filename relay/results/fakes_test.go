package results_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/reten/reten-relay/relay"
	"github.com/reten/reten-relay/relay/ops"
	"github.com/reten/reten-relay/relay/results"
	"github.com/reten/reten-relay/schema"
)

// settlement is what happened to one message (by its sequence, over all deliveries).
type settlement struct {
	acked      bool
	acks       int
	retried    bool
	retries    int
	delay      time.Duration
	deliveries int
	expired    int // deliveries whose ack wait ran out: the broker delivered them again
	inProgress int
}

// fakeSource delivers scripted messages and records how each was settled. Like a broker,
// it delivers again what it is given back (after the delay) and what is not settled
// within ackWait (when set), with the delivery count increased.
type fakeSource struct {
	ch      chan schema.Received
	ackWait time.Duration
	// stored is every message's FirstDelivered (when it entered the broker).
	stored time.Time
	// failAcks makes that many Ack calls fail, like acks sent while NATS reconnects.
	failAcks int
	mu       sync.Mutex
	by       map[uint64]*settlement
	bodies   map[uint64]string
	n        uint64
}

func newFakeSource() *fakeSource {
	return &fakeSource{ch: make(chan schema.Received, 100_000), by: map[uint64]*settlement{}, bodies: map[uint64]string{}}
}

func (s *fakeSource) put(body string) uint64 {
	s.mu.Lock()
	s.n++
	seq := s.n
	s.by[seq] = &settlement{}
	s.bodies[seq] = body
	s.mu.Unlock()
	s.deliver(seq)
	return seq
}

// deliver hands out one delivery of seq with its own settle funcs.
func (s *fakeSource) deliver(seq uint64) {
	s.mu.Lock()
	st := s.by[seq]
	st.deliveries++
	n := st.deliveries
	body := s.bodies[seq]
	s.mu.Unlock()
	var (
		mu       sync.Mutex
		settled  bool
		deadline *time.Timer
	)
	claim := func() bool {
		mu.Lock()
		defer mu.Unlock()
		if settled {
			return false
		}
		settled = true
		if deadline != nil {
			deadline.Stop()
		}
		return true
	}
	if s.ackWait > 0 {
		mu.Lock()
		deadline = time.AfterFunc(s.ackWait, func() {
			if claim() {
				s.mu.Lock()
				st.expired++
				s.mu.Unlock()
				s.deliver(seq)
			}
		})
		mu.Unlock()
	}
	s.ch <- schema.Received{
		Body: []byte(body), Origin: schema.Origin{Subject: "reten.results.x", Sequence: seq}, Deliveries: n,
		Headers: map[string]string{"h": "v"}, AckWait: s.ackWait, FirstDelivered: s.stored,
		Ack: func(context.Context) error {
			s.mu.Lock()
			fail := s.failAcks > 0
			if fail {
				s.failAcks--
			}
			s.mu.Unlock()
			if fail {
				return errors.New("nats: connection reconnecting")
			}
			if !claim() {
				return schema.ErrStaleDelivery
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			st.acked = true
			st.acks++
			return nil
		},
		Retry: func(_ context.Context, d time.Duration) error {
			if !claim() {
				return schema.ErrStaleDelivery
			}
			s.mu.Lock()
			st.retried, st.delay = true, d
			st.retries++
			s.mu.Unlock()
			time.AfterFunc(d, func() { s.deliver(seq) })
			return nil
		},
		InProgress: func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			if settled {
				return schema.ErrStaleDelivery
			}
			if deadline != nil {
				deadline.Reset(s.ackWait)
			}
			s.mu.Lock()
			st.inProgress++
			s.mu.Unlock()
			return nil
		},
	}
}

func (s *fakeSource) get(seq uint64) settlement {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.by[seq]
}

// allAcked reports whether every message put was acked.
func (s *fakeSource) allAcked() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.by {
		if !st.acked {
			return false
		}
	}
	return true
}

func (s *fakeSource) Receive(ctx context.Context) (schema.Received, error) {
	select {
	case m := <-s.ch:
		return m, nil
	case <-ctx.Done():
		return schema.Received{}, ctx.Err()
	}
}

func (s *fakeSource) Close(context.Context) error { return nil }

// pushingSource is the fake source handing messages over the way the NATS source does, from
// a goroutine of its own (the engine's pusher).
type pushingSource struct{ *fakeSource }

func (s pushingSource) Push(ctx context.Context, deliver func(schema.Received) bool) error {
	for {
		select {
		case m := <-s.ch:
			if !deliver(m) {
				s.ch <- m // not taken: the broker delivers it again later
				<-ctx.Done()
				return ctx.Err()
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// apiError behaves like sources/reten's error: a class plus status and Retry-After.
type apiError struct {
	class      error
	status     int
	retryAfter time.Duration
	perm       string
}

func (e *apiError) Error() string                  { return fmt.Sprintf("reten: %d", e.status) }
func (e *apiError) Is(t error) bool                { return t == e.class }
func (e *apiError) HTTPStatus() int                { return e.status }
func (e *apiError) RetryAfterDelay() time.Duration { return e.retryAfter }
func (e *apiError) RequiredPermission() string     { return e.perm }
func (e *apiError) Response() string               { return `{"statusCode":` + fmt.Sprint(e.status) + `}` }

func statusErr(status int) error {
	switch {
	case status == 401 || status == 403:
		return &apiError{class: schema.ErrAuth, status: status, perm: "SUBMIT_ACTIVITY_RESULT"}
	case status == 409:
		return &apiError{class: schema.ErrConflict, status: status}
	case status == 429 || status >= 500:
		return &apiError{class: schema.ErrTransient, status: status}
	default:
		return &apiError{class: schema.ErrRejected, status: status}
	}
}

// fakeSubmitter answers from a per-call function and records the bodies it got.
type fakeSubmitter struct {
	mu     sync.Mutex
	answer func(n int, body []byte) error
	bodies [][]byte
	types  []schema.ResultType
}

func (f *fakeSubmitter) SubmitResult(_ context.Context, body []byte) (int, error) {
	f.mu.Lock()
	f.bodies = append(f.bodies, body)
	n := len(f.bodies)
	answer := f.answer
	f.mu.Unlock()
	if answer == nil {
		return 201, nil
	}
	if err := answer(n, body); err != nil {
		return errStatusOf(err), err
	}
	return 201, nil
}

func errStatusOf(err error) int {
	var e *apiError
	if errors.As(err, &e) {
		return e.status
	}
	return 0
}

func (f *fakeSubmitter) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.bodies)
}

func (f *fakeSubmitter) ListResultTypes(context.Context) ([]schema.ResultType, error) {
	if f.types != nil {
		return f.types, nil
	}
	return []schema.ResultType{{Code: "SALE_COMPLETED"}, {Code: "RESCHEDULE", RequiresFutureScheduledAt: true}}, nil
}

// fakeSink records published messages, or fails while failing is set.
type fakeSink struct {
	mu       sync.Mutex
	msgs     []schema.Message
	failing  bool
	attempts int
}

func (s *fakeSink) Publish(_ context.Context, msgs []schema.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts++
	if s.failing {
		return errors.New("broker down")
	}
	s.msgs = append(s.msgs, msgs...)
	return nil
}

func (s *fakeSink) Close(context.Context) error { return nil }

func (s *fakeSink) deadLetters(t *testing.T) []schema.DeadLetter {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []schema.DeadLetter
	for _, m := range s.msgs {
		if m.Destination != "dlq" {
			continue
		}
		var dl schema.DeadLetter
		if err := json.Unmarshal(m.Body, &dl); err != nil {
			t.Fatal(err)
		}
		out = append(out, dl)
	}
	return out
}

var (
	_ relay.ResultSource = (*fakeSource)(nil)
	_ relay.Submitter    = (*fakeSubmitter)(nil)
	_ relay.Sink         = (*fakeSink)(nil)
)

type harness struct {
	src    *fakeSource
	sub    *fakeSubmitter
	sink   *fakeSink
	health *ops.Health
	cancel context.CancelFunc
	done   chan struct{}
}

// start runs a pipeline with tiny waits; mutate may change the config.
func start(t *testing.T, sub *fakeSubmitter, mutate func(*results.Config)) *harness {
	t.Helper()
	return startWith(t, receiving, sub, mutate)
}

// sourceMode is how the fake source hands messages to the pipeline.
type sourceMode string

const (
	receiving sourceMode = "receive" // the pipeline calls Receive (the Kafka source)
	pushing   sourceMode = "push"    // the source calls the pipeline (the NATS source)
)

// startWith is start with the fake source in the given mode.
func startWith(t *testing.T, mode sourceMode, sub *fakeSubmitter, mutate func(*results.Config)) *harness {
	t.Helper()
	h := &harness{src: newFakeSource(), sub: sub, sink: &fakeSink{}, health: ops.NewHealth(), done: make(chan struct{})}
	var src relay.ResultSource = h.src
	if mode == pushing {
		src = pushingSource{h.src}
	}
	cfg := results.Config{
		Source: src, Submitter: sub, DeadLetters: h.sink, DeadLetterDestination: "dlq",
		Outcomes: h.sink, OutcomeDestination: "outcomes", Concurrency: 4,
		Backoff:  results.Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond, MaxElapsed: time.Minute},
		LongWait: time.Second, AuthProbeInterval: 20 * time.Millisecond, Health: h.health,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	p, err := results.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() {
		defer close(h.done)
		if err := p.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(h.stop)
	return h
}

func (h *harness) stop() {
	h.cancel()
	<-h.done
}
