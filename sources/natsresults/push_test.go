package natsresults_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/sources/natsresults"
)

// pushed runs Push in the background, handing each message to take, and returns a func that
// stops it and reports what Push returned.
func pushed(t *testing.T, ctx context.Context, s *natsresults.Source, take func(schema.Received) bool) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Push(ctx, take) }()
	t.Cleanup(cancel)
	return func() error {
		cancel()
		return <-done
	}
}

func TestSource_PushHandsOverEveryMessageInOrderUntilItsContextEnds(t *testing.T) {
	_, nc, js, ctx := setup(t)
	s := newSource(t, ctx, nc, natsresults.Config{Stream: "RESULTS", FetchBatch: 4})
	const n = 20 // several pulls' worth
	for i := range n {
		publish(t, ctx, js, "reten.results.a", fmt.Sprint(i))
	}
	var mu sync.Mutex
	var got []string
	stop := pushed(t, ctx, s, func(m schema.Received) bool {
		mu.Lock()
		got = append(got, string(m.Body))
		mu.Unlock()
		if err := m.Ack(ctx); err != nil {
			t.Errorf("ack: %v", err)
		}
		return true
	})
	// 40 s, not 10: one CI run (2 cores, every package at once) handed over fewer than 20 in
	// 10 s, which 300 runs under CPU stress did not repeat. nats.go re-asks for messages
	// after a pull request expires (30 s), so a lost request delays, and never loses, them.
	relaytest.WaitFor(t, 40*time.Second, "every message handed over", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == n
	})
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Push returned %v, want context.Canceled", err)
	}
	for i, body := range got {
		if body != fmt.Sprint(i) {
			t.Fatalf("handed over %v, want 0..%d in order", got, n-1)
		}
	}
	relaytest.WaitFor(t, 10*time.Second, "the consumer to book every ack", func() bool {
		ci := consumerInfo(t, ctx, js, "RESULTS", "reten-relay")
		return ci.NumAckPending == 0 && ci.NumPending == 0 && ci.AckFloor.Stream == n
	})
}

func TestSource_AMessagePushNotTakenComesAgainAndNothingMoreIsPulled(t *testing.T) {
	_, nc, js, ctx := setup(t)
	s := newSource(t, ctx, nc, natsresults.Config{Stream: "RESULTS", AckWait: time.Second, FetchBatch: 4})
	for i := range 3 {
		publish(t, ctx, js, "reten.results.a", fmt.Sprint(i))
	}
	refused := make(chan schema.Received, 1)
	stop := pushed(t, ctx, s, func(m schema.Received) bool {
		refused <- m // the caller drains: it takes nothing
		return false
	})
	first := <-refused
	if string(first.Body) != "0" {
		t.Fatalf("first message handed over is %q, want 0", first.Body)
	}
	// After a refusal the pull hands nothing more over (the channel has room for one more:
	// a second call would block here, not panic), until the caller stops it.
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Push returned %v, want context.Canceled", err)
	}
	select {
	case m := <-refused:
		t.Fatalf("message %q handed over after a refusal", m.Body)
	default:
	}

	// The next Push gets the refused message again, once its ack wait has passed.
	var mu sync.Mutex
	var again []schema.Received
	stop = pushed(t, ctx, s, func(m schema.Received) bool {
		mu.Lock()
		again = append(again, m)
		mu.Unlock()
		_ = m.Ack(ctx)
		return true
	})
	relaytest.WaitFor(t, 20*time.Second, "all three handed over again", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(again) == 3
	})
	_ = stop()
	if string(again[0].Body) != "0" || again[0].Deliveries != 2 {
		t.Fatalf("first message of the second push: %q delivered %d times, want 0 delivered twice", again[0].Body, again[0].Deliveries)
	}
}

func TestSource_PushKeepsHandingOverAcrossAServerRestart(t *testing.T) {
	n, nc, js, ctx := setup(t)
	s := newSource(t, ctx, nc, natsresults.Config{})
	got := make(chan schema.Received, 10)
	// Call Push again whenever it returns with the pull ended, as the engine does.
	pctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	go func() {
		for pctx.Err() == nil {
			_ = s.Push(pctx, func(m schema.Received) bool { got <- m; return true })
		}
	}()
	publish(t, ctx, js, "reten.results.a", `1`)
	held := <-got

	restart(t, n, nc)

	if err := held.Ack(ctx); err != nil {
		t.Fatalf("ack of a message handed over before the restart: %v", err)
	}
	publish(t, ctx, js, "reten.results.a", `2`)
	select {
	case m := <-got:
		if string(m.Body) != "2" || m.Origin.Sequence != 2 {
			t.Fatalf("after the restart got %q (seq %d)", m.Body, m.Origin.Sequence)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("nothing handed over after the restart")
	}
	relaytest.WaitFor(t, 10*time.Second, "the ack before the restart to be booked", func() bool {
		return consumerInfo(t, ctx, js, s.Stream(), "reten-relay").AckFloor.Stream >= 1
	})
}
