package natsresults_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/reten/reten-relay/relay"
	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/sources/natsresults"
)

var _ relay.ResultSource = (*natsresults.Source)(nil)

func setup(t *testing.T) (*relaytest.NATS, *nats.Conn, jetstream.JetStream, context.Context) {
	t.Helper()
	n := relaytest.StartNATS(t)
	nc, err := nats.Connect(n.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return n, nc, js, ctx
}

func newSource(t *testing.T, ctx context.Context, nc *nats.Conn, cfg natsresults.Config) *natsresults.Source {
	t.Helper()
	if cfg.Subjects == nil {
		cfg.Subjects = []string{"reten.results.>"}
	}
	s, err := natsresults.New(ctx, nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func publish(t *testing.T, ctx context.Context, js jetstream.JetStream, subject, body string) {
	t.Helper()
	if _, err := js.Publish(ctx, subject, []byte(body)); err != nil {
		t.Fatal(err)
	}
}

func receive(t *testing.T, ctx context.Context, s *natsresults.Source) schema.Received {
	t.Helper()
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	m, err := s.Receive(rctx)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	return m
}

func TestSource_CreatesStreamAndDurableAndAcks(t *testing.T) {
	_, nc, js, ctx := setup(t)
	s := newSource(t, ctx, nc, natsresults.Config{Stream: "RESULTS"})
	publish(t, ctx, js, "reten.results.a", `{"n":1}`)
	m := receive(t, ctx, s)
	if string(m.Body) != `{"n":1}` || m.Deliveries != 1 || m.Origin.Subject != "reten.results.a" || m.Origin.Sequence != 1 || m.FirstDelivered.IsZero() {
		t.Fatalf("received %+v", m)
	}
	if err := m.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	info, err := js.Consumer(ctx, "RESULTS", "reten-relay")
	if err != nil {
		t.Fatal(err)
	}
	ci, _ := info.Info(ctx)
	if ci.NumAckPending != 0 || ci.Config.AckPolicy != jetstream.AckExplicitPolicy {
		t.Fatalf("consumer after ack: pending %d, policy %v", ci.NumAckPending, ci.Config.AckPolicy)
	}
}

func TestSource_BindsToAnExistingStreamWithoutChangingIt(t *testing.T) {
	_, nc, js, ctx := setup(t)
	existing, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "OPS_OWN", Subjects: []string{"reten.>"}, MaxAge: time.Hour, Duplicates: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	before := existing.CachedInfo().Config
	newSource(t, ctx, nc, natsresults.Config{Stream: "RETEN_RESULTS"})
	after, err := js.Stream(ctx, "OPS_OWN")
	if err != nil {
		t.Fatal(err)
	}
	if a := after.CachedInfo().Config; a.MaxAge != before.MaxAge || a.Duplicates != before.Duplicates || len(a.Subjects) != 1 {
		t.Fatalf("stream config changed: %+v", a)
	}
	if _, err := js.Stream(ctx, "RETEN_RESULTS"); err == nil {
		t.Fatal("created a second stream although one captures the subjects")
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
	if again.Deliveries != 2 || again.Origin.Sequence != m.Origin.Sequence {
		t.Fatalf("redelivery = %+v", again)
	}
	if err := again.InProgress(ctx); err != nil {
		t.Fatal(err)
	}
	_ = again.Ack(ctx)
}

func TestSource_UnackedMessagesComeBackToTheNextSource(t *testing.T) {
	_, nc, js, ctx := setup(t)
	first := newSource(t, ctx, nc, natsresults.Config{AckWait: 500 * time.Millisecond})
	publish(t, ctx, js, "reten.results.a", `lost?`)
	_ = receive(t, ctx, first) // never settled: the process "crashed"
	_ = first.Close(ctx)
	second := newSource(t, ctx, nc, natsresults.Config{AckWait: 500 * time.Millisecond})
	m := receive(t, ctx, second)
	if string(m.Body) != "lost?" || m.Deliveries < 2 {
		t.Fatalf("redelivered %+v", m)
	}
}

func TestSource_KeepsDeliveringAcrossAServerRestart(t *testing.T) {
	n, nc, js, ctx := setup(t)
	s := newSource(t, ctx, nc, natsresults.Config{})
	publish(t, ctx, js, "reten.results.a", `1`)
	m := receive(t, ctx, s)
	_ = m.Ack(ctx)
	n.Stop()
	n.Start()
	relaytest.WaitFor(t, 10*time.Second, "the client to reconnect", nc.IsConnected)
	publish(t, ctx, js, "reten.results.a", `2`)
	if m := receive(t, ctx, s); string(m.Body) != "2" {
		t.Fatalf("after restart got %q", m.Body)
	}
}

func TestReplay_SendsDeadLettersBackAndRemovesOnlyThose(t *testing.T) {
	_, nc, js, ctx := setup(t)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "DLQ", Subjects: []string{"reten.dlq.results"}}); err != nil {
		t.Fatal(err)
	}
	s := newSource(t, ctx, nc, natsresults.Config{})
	for i := range 3 {
		dl, _ := json.Marshal(schema.DeadLetter{Reason: schema.ReasonRejected, Source: schema.Origin{Subject: fmt.Sprintf("reten.results.t%d", i)},
			Headers: map[string]string{"Dlq-Reason": "rejected", "X-Trace": "abc"}, Message: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))})
		publish(t, ctx, js, "reten.dlq.results", string(dl))
	}
	n, err := natsresults.Replay(ctx, nc, natsresults.ReplayOptions{DeadLetterSubject: "reten.dlq.results", InputSubject: "reten.results.>", Limit: 2, Rate: 1000})
	if err != nil || n != 2 {
		t.Fatalf("replayed %d, %v", n, err)
	}
	for i := range 2 {
		m := receive(t, ctx, s)
		if string(m.Body) != fmt.Sprintf(`{"n":%d}`, i) || m.Origin.Subject != fmt.Sprintf("reten.results.t%d", i) || m.Headers["X-Trace"] != "abc" || m.Headers["Dlq-Reason"] != "" {
			t.Fatalf("replayed message %d = %+v", i, m)
		}
		_ = m.Ack(ctx)
	}
	dlq, _ := js.Stream(ctx, "DLQ")
	info, _ := dlq.Info(ctx)
	if info.State.Msgs != 1 {
		t.Fatalf("dead-letter stream holds %d messages, want the 1 not replayed", info.State.Msgs)
	}
}
