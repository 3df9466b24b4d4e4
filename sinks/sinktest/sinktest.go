// Package sinktest is the conformance suite every relay.Sink runs in its tests: publish
// many, order per key, headers and id, empty batches, cancelled contexts, Close while
// publishing and Publish after Close. It talks to real brokers through the functions the
// sink's own test passes in; it has no broker code of its own.
package sinktest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/reten/reten-relay/relay"
	"github.com/reten/reten-relay/schema"
)

// Received is one message as a reader took it off the broker.
type Received struct {
	// ID is the message id the broker carried (Nats-Msg-Id, the Kafka header ce_id).
	ID string
	// Key is the Kafka record key; empty on NATS.
	Key string
	// Headers are all headers of the message, including the id header.
	Headers map[string]string
	// Body is the payload.
	Body []byte
}

// Features describes the sink under test and how to reach its broker.
type Features struct {
	// ErrClosed is the sentinel the sink returns from Publish after Close.
	ErrClosed error
	// NewDestination returns a fresh, empty destination (subject or topic) that the sink
	// can publish to and Read can read from.
	NewDestination func(t *testing.T) string
	// Read returns the first n messages stored at destination, in the order the broker
	// keeps them per key, failing the test if fewer arrive in time.
	Read func(t *testing.T, destination string, n int) []Received
	// Timeout bounds every blocking step of the suite. Default: 20s.
	Timeout time.Duration
}

// Run runs the suite as subtests of t. newSink returns a new sink that the suite closes.
func Run(t *testing.T, newSink func(t *testing.T) relay.Sink, f Features) {
	if f.Timeout <= 0 {
		f.Timeout = 20 * time.Second
	}
	tests := []struct {
		name string
		run  func(t *testing.T, newSink func(t *testing.T) relay.Sink, f Features)
	}{
		{"Many messages arrive once each and in order per key", testPublishManyInOrderPerKey},
		{"The id, key, headers and body arrive as given", testHeadersAndIDArrive},
		{"An empty batch is published without error", testEmptyBatch},
		{"Publish after Close returns ErrClosed and Close is idempotent", testPublishAfterClose},
		{"Close while publishing concurrently loses no confirmed message", testConcurrentPublishAndClose},
		{"A cancelled context makes Publish return the context's error", testCancelledContext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newSink, f) })
	}
}

// Message builds a message for destination with key and a unique id made of key and seq.
func Message(destination, key string, seq int) schema.Message {
	id := fmt.Sprintf("%s-%s-%d", destination, key, seq)
	return schema.Message{
		Destination: destination,
		Key:         key,
		ID:          id,
		Headers:     map[string]string{"ce_subject": key},
		Body:        fmt.Appendf(nil, `{"key":%q,"seq":%d}`, key, seq),
	}
}

func closeSink(t *testing.T, s relay.Sink, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Errorf("close sink: %v", err)
	}
}

func testPublishManyInOrderPerKey(t *testing.T, newSink func(t *testing.T) relay.Sink, f Features) {
	s := newSink(t)
	t.Cleanup(func() { closeSink(t, s, f.Timeout) })
	dest := f.NewDestination(t)
	const keys, perKey, batch = 5, 60, 50
	var all []schema.Message
	for seq := range perKey {
		for k := range keys {
			all = append(all, Message(dest, fmt.Sprintf("task-%d", k), seq))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.Timeout)
	defer cancel()
	for i := 0; i < len(all); i += batch {
		if err := s.Publish(ctx, all[i:min(i+batch, len(all))]); err != nil {
			t.Fatalf("publish batch at %d: %v", i, err)
		}
	}
	got := f.Read(t, dest, len(all))
	want := map[string]schema.Message{}
	for _, m := range all {
		want[m.ID] = m
	}
	nextSeq := map[string]int{}
	for _, r := range got {
		m, ok := want[r.ID]
		if !ok {
			t.Fatalf("message %q arrived but was never published or arrived twice", r.ID)
		}
		delete(want, r.ID)
		subject := m.Headers["ce_subject"]
		if wantID := Message(dest, subject, nextSeq[subject]).ID; r.ID != wantID {
			t.Fatalf("key %s: got %s, want %s next: order per key broken", subject, r.ID, wantID)
		}
		nextSeq[subject]++
	}
	if len(want) != 0 {
		t.Fatalf("%d messages never arrived", len(want))
	}
}

func testHeadersAndIDArrive(t *testing.T, newSink func(t *testing.T) relay.Sink, f Features) {
	s := newSink(t)
	t.Cleanup(func() { closeSink(t, s, f.Timeout) })
	dest := f.NewDestination(t)
	m := schema.Message{
		Destination: dest,
		Key:         "task-42",
		ID:          "id-42",
		Headers:     map[string]string{"ce_type": "ai.reten.task.updated", "ce_subject": "task-42"},
		Body:        []byte(`{"hello":"world"}`),
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.Timeout)
	defer cancel()
	if err := s.Publish(ctx, []schema.Message{m}); err != nil {
		t.Fatalf("publish: %v", err)
	}
	got := f.Read(t, dest, 1)[0]
	if got.ID != m.ID {
		t.Errorf("id: got %q, want %q", got.ID, m.ID)
	}
	if got.Key != "" && got.Key != m.Key {
		t.Errorf("key: got %q, want %q", got.Key, m.Key)
	}
	for k, v := range m.Headers {
		if got.Headers[k] != v {
			t.Errorf("header %s: got %q, want %q", k, got.Headers[k], v)
		}
	}
	if string(got.Body) != string(m.Body) {
		t.Errorf("body: got %s, want %s", got.Body, m.Body)
	}
}

func testEmptyBatch(t *testing.T, newSink func(t *testing.T) relay.Sink, f Features) {
	s := newSink(t)
	t.Cleanup(func() { closeSink(t, s, f.Timeout) })
	ctx, cancel := context.WithTimeout(context.Background(), f.Timeout)
	defer cancel()
	for _, batch := range [][]schema.Message{nil, {}} {
		if err := s.Publish(ctx, batch); err != nil {
			t.Fatalf("publish %#v: %v", batch, err)
		}
	}
}

func testPublishAfterClose(t *testing.T, newSink func(t *testing.T) relay.Sink, f Features) {
	s := newSink(t)
	dest := f.NewDestination(t)
	ctx, cancel := context.WithTimeout(context.Background(), f.Timeout)
	defer cancel()
	if err := s.Publish(ctx, []schema.Message{Message(dest, "k", 0)}); err != nil {
		t.Fatalf("publish before close: %v", err)
	}
	for i := range 2 {
		if err := s.Close(ctx); err != nil {
			t.Fatalf("close #%d: %v", i+1, err)
		}
	}
	for _, batch := range [][]schema.Message{nil, {Message(dest, "k", 1)}} {
		if err := s.Publish(ctx, batch); !errors.Is(err, f.ErrClosed) {
			t.Fatalf("publish %d messages after close: got %v, want %v", len(batch), err, f.ErrClosed)
		}
	}
}

func testConcurrentPublishAndClose(t *testing.T, newSink func(t *testing.T) relay.Sink, f Features) {
	s := newSink(t)
	dest := f.NewDestination(t)
	ctx, cancel := context.WithTimeout(context.Background(), f.Timeout)
	defer cancel()
	const publishers = 4
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		confirmed = map[string]bool{}
		started   = make(chan struct{}, publishers)
	)
	for p := range publishers {
		wg.Go(func() {
			key := fmt.Sprintf("p%d", p)
			for seq := 0; ; seq++ {
				m := Message(dest, key, seq)
				err := s.Publish(ctx, []schema.Message{m})
				if seq == 0 {
					started <- struct{}{}
				}
				switch {
				case err == nil:
					mu.Lock()
					confirmed[m.ID] = true
					mu.Unlock()
				case errors.Is(err, f.ErrClosed):
					return
				default:
					t.Errorf("publish %s: got %v, want nil or ErrClosed", m.ID, err)
					return
				}
			}
		})
	}
	for range publishers {
		<-started
	}
	if err := s.Close(ctx); err != nil {
		t.Fatalf("close while publishing: %v", err)
	}
	wg.Wait()
	if len(confirmed) == 0 {
		t.Fatal("no publish was confirmed before close")
	}
	for _, r := range f.Read(t, dest, len(confirmed)) {
		delete(confirmed, r.ID)
	}
	if len(confirmed) != 0 {
		t.Fatalf("%d confirmed messages are missing", len(confirmed))
	}
}

func testCancelledContext(t *testing.T, newSink func(t *testing.T) relay.Sink, f Features) {
	s := newSink(t)
	t.Cleanup(func() { closeSink(t, s, f.Timeout) })
	dest := f.NewDestination(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan error, 1)
	go func() { done <- s.Publish(ctx, []schema.Message{Message(dest, "k", 0)}) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("publish with a cancelled context: got %v, want context.Canceled", err)
		}
	case <-time.After(f.Timeout):
		t.Fatalf("publish with a cancelled context did not return within %s", f.Timeout)
	}
}
