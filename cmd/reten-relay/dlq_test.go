package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/segmentio/kafka-go"

	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/schema"
)

// deadLetter is a dead letter of reason for activity.
func deadLetter(reason, activity string) []byte {
	b, _ := json.Marshal(schema.DeadLetter{Reason: reason, Error: reason + " error", HTTPStatus: 400,
		Source: schema.Origin{Subject: "reten.results.x"}, Message: json.RawMessage(`{"activity_id":"` + activity + `"}`)})
	return b
}

func TestDLQ_ListShowAndReplayByReasonOnNATS(t *testing.T) {
	e := newE2E(t)
	js, ctx := e.jsClient()
	createResultStreams(t, ctx, js)
	for i, r := range []string{schema.ReasonRejected, schema.ReasonRetriesExhausted, schema.ReasonRejected} {
		if _, err := js.Publish(ctx, "reten.dlq.results", deadLetter(r, "act-"+string(rune('a'+i)))); err != nil {
			t.Fatal(err)
		}
	}
	path := e.configFile(resultsConfig("nats"))

	code, out, stderr := runCLI(t, ctx, "dlq", "ls", "-config", path)
	if code != exitOK || !strings.Contains(out, "3 dead letters") || !strings.Contains(out, "act-b") || !strings.Contains(out, "POSITION") {
		t.Fatalf("ls: exit %d: %s %s", code, out, stderr)
	}
	code, out, _ = runCLI(t, ctx, "dlq", "ls", "-config", path, "-reason", "rejected")
	if code != exitOK || !strings.Contains(out, "2 dead letters") || strings.Contains(out, "act-b") {
		t.Fatalf("ls -reason: exit %d: %s", code, out)
	}
	code, out, stderr = runCLI(t, ctx, "dlq", "show", "2", "-config", path)
	if code != exitOK || !strings.Contains(out, `"reason": "retries_exhausted"`) {
		t.Fatalf("show: exit %d: %s %s", code, out, stderr)
	}
	code, out, _ = runCLI(t, ctx, "dlq", "replay", "-config", path, "-reason", "rejected", "-dry-run")
	if code != exitOK || !strings.Contains(out, "would replay 2") || !strings.Contains(out, "act-c") {
		t.Fatalf("dry run: exit %d: %s", code, out)
	}
	code, out, _ = runCLI(t, ctx, "dlq", "replay", "-config", path, "-reason", "rejected", "-rate", "1000")
	if code != exitOK || !strings.Contains(out, "replayed 2 dead letters") || !strings.Contains(out, "reten.results.x") {
		t.Fatalf("replay: exit %d: %s", code, out)
	}
	results, _ := js.Stream(ctx, "RETEN_RESULTS")
	info, _ := results.Info(ctx)
	dlq, _ := js.Stream(ctx, "RETEN_DLQ")
	dinfo, _ := dlq.Info(ctx)
	if info.State.Msgs != 2 || dinfo.State.Msgs != 1 {
		t.Fatalf("input holds %d, dead letters %d; want 2 and 1 (the retries_exhausted one stays)", info.State.Msgs, dinfo.State.Msgs)
	}
}

func TestDLQ_ListShowAndReplayByReasonOnKafka(t *testing.T) {
	e := newE2E(t)
	k := relaytest.StartKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// One key, so one partition: the order of the dead letters is the order written.
	w := &kafka.Writer{Addr: kafka.TCP(k.Brokers()...), RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond,
		AllowAutoTopicCreation: true, Balancer: &kafka.Hash{}}
	defer w.Close()
	if err := w.WriteMessages(ctx, kafka.Message{Topic: "reten-results", Value: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	for i, r := range []string{schema.ReasonConflict, schema.ReasonConflict, schema.ReasonRejected} {
		if err := w.WriteMessages(ctx, kafka.Message{Topic: "reten-dlq", Key: []byte("k"), Value: deadLetter(r, "act-"+string(rune('a'+i)))}); err != nil {
			t.Fatal(err)
		}
	}
	path := e.configFile(resultsConfig("kafka") + "kafka: {brokers: [\"" + k.Brokers()[0] + "\"], create_topics: true}\n")
	code, out, stderr := runCLI(t, ctx, "dlq", "ls", "-config", path, "-reason", "conflict")
	if code != exitOK || !strings.Contains(out, "2 dead letters") || strings.Contains(out, "act-c") {
		t.Fatalf("ls: exit %d: %s %s", code, out, stderr)
	}
	_, out, _ = runCLI(t, ctx, "dlq", "ls", "-config", path, "-reason", "rejected")
	pos := strings.Fields(strings.Split(out, "\n")[1])[0] // the first row's position
	if !strings.HasSuffix(pos, ":2") {
		t.Fatalf("the rejected dead letter is at %q, want offset 2:\n%s", pos, out)
	}
	code, out, stderr = runCLI(t, ctx, "dlq", "show", "-config", path, pos)
	if code != exitOK || !strings.Contains(out, `"reason": "rejected"`) {
		t.Fatalf("show: exit %d: %s %s", code, out, stderr)
	}
	// A filtered replay on Kafka stops at the first dead letter of another reason.
	code, out, stderr = runCLI(t, ctx, "dlq", "replay", "-config", path, "-reason", "conflict", "-rate", "1000")
	if code != exitOK || !strings.Contains(out, "replayed 2 dead letters") || !strings.Contains(out, "a dead letter of reason rejected") {
		t.Fatalf("replay: exit %d: %s %s", code, out, stderr)
	}
}

func TestDLQ_WithTheShippedConfigExplainsHowToReachTheEmbeddedServer(t *testing.T) {
	code, _, stderr := runCLI(t, context.Background(), "dlq", "ls", "-config", "../../config.yaml")
	if code != exitFailure || !strings.Contains(stderr, "NATS_EMBEDDED_PORT") || !strings.Contains(stderr, "NATS_URL") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

// createResultStreams makes the input and dead-letter streams the results config uses, as an
// operator (or an earlier run) would have.
func createResultStreams(t *testing.T, ctx context.Context, js jetstream.JetStream) {
	t.Helper()
	for _, s := range []jetstream.StreamConfig{{Name: "RETEN_DLQ", Subjects: []string{"reten.dlq.results"}}, {Name: "RETEN_RESULTS", Subjects: []string{"reten.results.>"}}} {
		if _, err := js.CreateStream(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
}
