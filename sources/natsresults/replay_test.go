package natsresults_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/sources/natsresults"
)

func TestReplay_SendsDeadLettersBackAndRemovesOnlyThose(t *testing.T) {
	_, nc, js, ctx := setup(t)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "DLQ", Subjects: []string{"reten.dlq.results"}}); err != nil {
		t.Fatal(err)
	}
	s := newSource(t, ctx, nc, natsresults.Config{})
	for i := range 3 {
		dl, _ := json.Marshal(schema.DeadLetter{Reason: schema.ReasonRejected, Source: schema.Origin{Subject: fmt.Sprintf("reten.results.t%d", i)},
			Headers: map[string]string{"Dlq-Reason": "rejected", "X-Trace": "abc", "Nats-Msg-Id": "orig"}, Message: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))})
		publish(t, ctx, js, "reten.dlq.results", string(dl))
	}
	n, err := natsresults.Replay(ctx, nc, natsresults.ReplayOptions{DeadLetterSubject: "reten.dlq.results", InputSubject: "reten.results.>", Limit: 2, Rate: 1000})
	if err != nil || n != 2 {
		t.Fatalf("replayed %d, %v", n, err)
	}
	for i := range 2 {
		m := receive(t, ctx, s)
		if string(m.Body) != fmt.Sprintf(`{"n":%d}`, i) || m.Origin.Subject != fmt.Sprintf("reten.results.t%d", i) || m.Headers["X-Trace"] != "abc" ||
			m.Headers["Dlq-Reason"] != "" || m.Headers["Nats-Msg-Id"] == "orig" {
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

func TestReplay_SendsToTheInputSubjectWhenTheOriginalDoesNotMatch(t *testing.T) {
	_, nc, js, ctx := setup(t)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "DLQ", Subjects: []string{"reten.dlq.results"}}); err != nil {
		t.Fatal(err)
	}
	s := newSource(t, ctx, nc, natsresults.Config{Subjects: []string{"reten.results.in"}})
	dl, _ := json.Marshal(schema.DeadLetter{Reason: schema.ReasonRetriesExhausted, Source: schema.Origin{Topic: "kafka-topic"}, Message: json.RawMessage(`"not json"`)})
	publish(t, ctx, js, "reten.dlq.results", string(dl))

	n, err := natsresults.Replay(ctx, nc, natsresults.ReplayOptions{DeadLetterSubject: "reten.dlq.results", InputSubject: "reten.results.in", Rate: 1000})
	if err != nil || n != 1 {
		t.Fatalf("replayed %d, %v", n, err)
	}
	m := receive(t, ctx, s)
	if m.Origin.Subject != "reten.results.in" || string(m.Body) != "not json" {
		t.Fatalf("replayed %+v", m)
	}
}

func TestReplay_SaysSoWhenNoStreamHoldsTheDeadLetters(t *testing.T) {
	_, nc, _, ctx := setup(t)
	n, err := natsresults.Replay(ctx, nc, natsresults.ReplayOptions{DeadLetterSubject: "reten.dlq.results", InputSubject: "reten.results.>"})
	if n != 0 || !errors.Is(err, natsresults.ErrNoDeadLetterStream) {
		t.Fatalf("Replay() = %d, %v; want 0, ErrNoDeadLetterStream", n, err)
	}
}
