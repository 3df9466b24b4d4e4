package natssink_test

import (
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/sinks/natssink"
	"github.com/reten/reten-relay/sinks/natsstreams"
)

func TestSink_TwoRoutesIntoOneStreamKeepBothCopiesAndRepublishesStayDeduped(t *testing.T) {
	srv := relaytest.StartNATS(t)
	_, js := connect(t, srv.URL())
	st := createStream(t, js, "TASKS", "tasks.>")
	s := newSink(t, srv.URL(), natssink.Config{}, quietLogger)
	msgs := []schema.Message{
		{Destination: "tasks.created", ID: "ev-1", Route: "all-tasks", Body: []byte(`{}`)},
		{Destination: "tasks.pending.t1", ID: "ev-1", Route: "pending-by-id", Body: []byte(`{}`)},
	}
	for range 2 { // the second time is a re-publish after a crash: same headers, dropped
		if err := s.Publish(testContext(t), msgs); err != nil {
			t.Fatal(err)
		}
	}
	info, err := st.Info(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Fatalf("stream holds %d messages, want one per route", info.State.Msgs)
	}
	got := readStream(t, js, "TASKS", "tasks.>", 2)
	if got[0].ID != "ev-1/all-tasks" || got[1].ID != "ev-1/pending-by-id" {
		t.Fatalf("Nats-Msg-Id = %q, %q; want <id>/<route>", got[0].ID, got[1].ID)
	}
}

func TestSink_ReCreatesItsStreamAfterItWasDeleted(t *testing.T) {
	srv := relaytest.StartNATS(t)
	_, js := connect(t, srv.URL())
	s := newSink(t, srv.URL(), natssink.Config{Streams: []natsstreams.Need{
		{Purpose: "results.dead_letter", Subject: "dlq.results", Stream: "RETEN_DLQ", Kind: natsstreams.DeadLetters},
	}}, quietLogger)
	publish := func(id string) error {
		return s.Publish(testContext(t), []schema.Message{{Destination: "dlq.results", ID: id, Body: []byte(id)}})
	}
	if err := publish("before"); err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteStream(testContext(t), "RETEN_DLQ"); err != nil {
		t.Fatal(err)
	}
	// The stream-deleted advisory (or, failing that, the "no response from stream" of one
	// publish) makes the sink ensure its streams again before publishing.
	relaytest.WaitFor(t, testTimeout, "a publish into the re-created stream", func() bool { return publish("after") == nil })
	st, err := js.Stream(testContext(t), "RETEN_DLQ")
	if err != nil {
		t.Fatal(err)
	}
	if cfg := st.CachedInfo().Config; cfg.Discard != jetstream.DiscardNew || cfg.MaxAge == 0 || cfg.MaxBytes <= 0 {
		t.Fatalf("re-created dead-letter stream is not bounded or drops old dead letters: %+v", cfg)
	}
	if got := readStream(t, js, "RETEN_DLQ", "dlq.results", 1); string(got[0].Body) != "after" {
		t.Fatalf("re-created stream holds %q", got[0].Body)
	}
}
