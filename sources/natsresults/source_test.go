package natsresults_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/sources/natsresults"
)

func TestSource_AckedMessageIsNotDeliveredAgain(t *testing.T) {
	_, nc, js, ctx := setup(t)
	s := newSource(t, ctx, nc, natsresults.Config{Stream: "RESULTS", AckWait: time.Second})
	msg := nats.NewMsg("reten.results.a")
	msg.Data = []byte(`{"n":1}`)
	msg.Header.Set("Nats-Msg-Id", "id-1")
	msg.Header.Add("X-Trace", "first")
	msg.Header.Add("X-Trace", "second")
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}

	m := receive(t, ctx, s)
	if string(m.Body) != `{"n":1}` || m.Deliveries != 1 || m.Origin.Subject != "reten.results.a" || m.Origin.Sequence != 1 ||
		m.FirstDelivered.IsZero() || m.Headers["Nats-Msg-Id"] != "id-1" || m.Headers["X-Trace"] != "first" {
		t.Fatalf("received %+v", m)
	}
	if err := m.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	// The server confirmed it has the ack; its consumer books it from a queue of its own,
	// so it may take a moment to show.
	var ci *jetstream.ConsumerInfo
	relaytest.WaitFor(t, 10*time.Second, "the consumer to book the ack", func() bool {
		ci = consumerInfo(t, ctx, js, "RESULTS", "reten-relay")
		return ci.NumAckPending == 0
	})
	if ci.NumAckPending != 0 || ci.NumPending != 0 || ci.NumRedelivered != 0 || ci.AckFloor.Stream != 1 {
		t.Fatalf("consumer after ack: %+v", ci)
	}
	if err := m.Ack(ctx); !errors.Is(err, natsresults.ErrAlreadySettled) {
		t.Fatalf("second ack = %v, want ErrAlreadySettled", err)
	}
	if err := m.Retry(ctx, 0); !errors.Is(err, natsresults.ErrAlreadySettled) {
		t.Fatalf("retry after ack = %v, want ErrAlreadySettled", err)
	}
}

func TestSource_RetryRedeliversAfterTheDelay(t *testing.T) {
	_, nc, js, ctx := setup(t)
	s := newSource(t, ctx, nc, natsresults.Config{})
	publish(t, ctx, js, "reten.results.a", `x`)
	m := receive(t, ctx, s)
	if err := m.Retry(ctx, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	again := receive(t, ctx, s)
	if again.Deliveries != 2 || again.Origin.Sequence != m.Origin.Sequence || string(again.Body) != "x" {
		t.Fatalf("redelivery = %+v", again)
	}
	if !again.FirstDelivered.Equal(m.FirstDelivered) {
		t.Fatalf("FirstDelivered moved from %s to %s", m.FirstDelivered, again.FirstDelivered)
	}
	if err := again.Ack(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestSource_UnsettledMessagesComeBackToTheNextSource(t *testing.T) {
	_, nc, js, ctx := setup(t)
	first := newSource(t, ctx, nc, natsresults.Config{AckWait: 500 * time.Millisecond})
	publish(t, ctx, js, "reten.results.a", `lost?`)
	_ = receive(t, ctx, first) // never settled: the process "crashed"
	if err := first.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := first.Receive(ctx); !errors.Is(err, natsresults.ErrClosed) {
		t.Fatalf("receive after close = %v, want ErrClosed", err)
	}
	second := newSource(t, ctx, nc, natsresults.Config{AckWait: 500 * time.Millisecond})
	m := receive(t, ctx, second)
	if string(m.Body) != "lost?" || m.Deliveries != 2 {
		t.Fatalf("redelivered %+v", m)
	}
}

func TestSource_InProgressHoldsAMessageBeyondItsAckWait(t *testing.T) {
	const ackWait = time.Second
	_, nc, js, ctx := setup(t)
	s := newSource(t, ctx, nc, natsresults.Config{Stream: "RESULTS", AckWait: ackWait})
	publish(t, ctx, js, "reten.results.a", `slow`)
	m := receive(t, ctx, s)

	// Work for three ack waits, telling the server every so often.
	tick := time.NewTicker(ackWait / 5)
	defer tick.Stop()
	done := time.After(3 * ackWait)
	for working := true; working; {
		select {
		case <-tick.C:
			if err := m.InProgress(ctx); err != nil {
				t.Fatal(err)
			}
		case <-done:
			working = false
		}
	}
	if ci := consumerInfo(t, ctx, js, "RESULTS", "reten-relay"); ci.NumRedelivered != 0 || ci.NumAckPending != 1 {
		t.Fatalf("message was redelivered while in progress: %+v", ci)
	}
	if err := m.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.InProgress(ctx); !errors.Is(err, natsresults.ErrAlreadySettled) {
		t.Fatalf("in progress after ack = %v, want ErrAlreadySettled", err)
	}
}

func TestSource_KeepsDeliveringAcrossAServerRestart(t *testing.T) {
	n, nc, js, ctx := setup(t)
	s := newSource(t, ctx, nc, natsresults.Config{})
	publish(t, ctx, js, "reten.results.a", `1`)
	held := receive(t, ctx, s)

	restart(t, n, nc)

	if err := held.Ack(ctx); err != nil {
		t.Fatalf("ack of a message received before the restart: %v", err)
	}
	publish(t, ctx, js, "reten.results.a", `2`)
	m := receive(t, ctx, s)
	if string(m.Body) != "2" || m.Origin.Sequence != 2 {
		t.Fatalf("after restart got %q (seq %d)", m.Body, m.Origin.Sequence)
	}
	if err := m.Ack(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestSource_ReceiveReturnsWhenItsContextEnds(t *testing.T) {
	_, nc, _, ctx := setup(t)
	s := newSource(t, ctx, nc, natsresults.Config{})
	rctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := s.Receive(rctx)
		errc <- err
	}()
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Receive() = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Receive did not return after its context was cancelled")
	}
}

func TestSource_BindsAgainWhenItsConsumerIsDeleted(t *testing.T) {
	_, nc, js, ctx := setup(t)
	s := newSource(t, ctx, nc, natsresults.Config{Stream: "RESULTS"})
	publish(t, ctx, js, "reten.results.a", `1`)
	if err := receive(t, ctx, s).Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteConsumer(ctx, "RESULTS", "reten-relay"); err != nil {
		t.Fatal(err)
	}
	publish(t, ctx, js, "reten.results.a", `2`)
	// The pull fails once the server says the consumer is gone; the next Receive creates
	// it again, from the start of the stream (an operator who deletes it asks for that).
	var bodies []string
	relaytest.WaitFor(t, 10*time.Second, "delivery from the re-created consumer", func() bool {
		rctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		m, err := s.Receive(rctx)
		if err != nil {
			return false
		}
		bodies = append(bodies, string(m.Body))
		_ = m.Ack(ctx)
		return string(m.Body) == "2"
	})
	if len(bodies) != 2 || bodies[0] != "1" {
		t.Fatalf("after re-creating the consumer got %v, want [1 2]", bodies)
	}
}

func TestSource_AnAckLostWithItsConnectionIsSentAgain(t *testing.T) {
	n, _, js, ctx := setup(t)
	// The relay's connection goes through a link that can lose what is written to it.
	link := startLink(t, n.URL())
	nc, err := nats.Connect(link.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	s := newSource(t, ctx, nc, natsresults.Config{Stream: "RESULTS", AckWait: time.Minute})
	publish(t, ctx, js, "reten.results.a", `1`)
	m := receive(t, ctx, s)

	link.blackhole() // the ack and its PING vanish on the way
	if err := m.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	relaytest.WaitFor(t, 10*time.Second, "the ack's round to be written into the void", func() bool { return link.swallowed() > 0 })
	link.cut() // the connection drops; the client reconnects through a working link
	relaytest.WaitFor(t, 10*time.Second, "the consumer to book the ack sent again", func() bool {
		ci := consumerInfo(t, ctx, js, "RESULTS", "reten-relay")
		return ci.NumAckPending == 0 && ci.AckFloor.Stream == 1
	})
}

func TestSource_AcksOfManyMessagesAreConfirmedTogether(t *testing.T) {
	_, nc, js, ctx := setup(t)
	s := newSource(t, ctx, nc, natsresults.Config{Stream: "RESULTS", FetchBatch: 64})
	const n = 300 // more than one round holds
	for i := range n {
		publish(t, ctx, js, "reten.results.a", fmt.Sprint(i))
	}
	before := nc.Stats()
	for range n {
		if err := receive(t, ctx, s).Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	relaytest.WaitFor(t, 10*time.Second, "the consumer to book every ack", func() bool {
		ci := consumerInfo(t, ctx, js, "RESULTS", "reten-relay")
		return ci.NumAckPending == 0 && ci.NumPending == 0 && ci.AckFloor.Stream == n
	})
	// One message out per ack and no reply to it (a double ack would be answered): what
	// comes in is the deliveries, a few pull statuses, and the consumer info replies.
	after := nc.Stats()
	if sent, got := after.OutMsgs-before.OutMsgs, after.InMsgs-before.InMsgs; sent > n+n/4 || got > n+n/4 {
		t.Fatalf("%d messages sent and %d received for %d acks", sent, got, n)
	}
}
