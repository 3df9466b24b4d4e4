package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/segmentio/kafka-go"

	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/sources/reten/retensim"
)

func TestCheck_ReportsEachEndpointAndTheMissingPermission(t *testing.T) {
	e := newE2E(t)
	e.sim.AddKey("rtn_sk_viewonly123", retensim.DefaultTenant, "VIEW_ACTIVITIES")
	path := e.configFile(resultsConfig("nats"))
	code, out, stderr := runCLI(t, context.Background(), "check", "-config", path)
	if code != exitOK {
		t.Fatalf("check with a full key: exit %d\n%s%s", code, out, stderr)
	}
	for _, want := range []string{"✓ config", "✓ nats " + e.nats.URL(), "POST /api/integration/activity-results/tasks: key accepted (SUBMIT_ACTIVITY_RESULT)"} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	cfg, _ := os.ReadFile(path)
	_ = os.WriteFile(path, []byte(strings.Replace(string(cfg), e.sim.APIKey(), "rtn_sk_viewonly123", 1)), 0o600)
	code, out, _ = runCLI(t, context.Background(), "check", "-config", path)
	if code != exitFailure || !strings.Contains(out, "✗ reten POST /api/integration/activity-results/tasks") || !strings.Contains(out, "lacks the permission SUBMIT_ACTIVITY_RESULT") {
		t.Fatalf("check with a view-only key: exit %d\n%s", code, out)
	}
}

func TestDLQReplay_SendsDeadLettersBackToTheInput(t *testing.T) {
	e := newE2E(t)
	js, ctx := e.jsClient()
	createResultStreams(t, ctx, js)
	for i := range 3 {
		dl, _ := json.Marshal(schema.DeadLetter{Reason: schema.ReasonRejected, Source: schema.Origin{Subject: "reten.results.x", Sequence: uint64(i + 1)}, Message: json.RawMessage(`{"n":1}`)})
		if _, err := js.Publish(ctx, "reten.dlq.results", dl); err != nil {
			t.Fatal(err)
		}
	}
	path := e.configFile(resultsConfig("nats"))
	code, out, stderr := runCLI(t, ctx, "dlq", "replay", "-config", path, "-limit", "2", "-rate", "1000")
	if code != exitOK || !strings.Contains(out, "replayed 2 dead letters") {
		t.Fatalf("exit %d: %s %s", code, out, stderr)
	}
	results, _ := js.Stream(ctx, "RETEN_RESULTS")
	info, _ := results.Info(ctx)
	dlq, _ := js.Stream(ctx, "RETEN_DLQ")
	dinfo, _ := dlq.Info(ctx)
	if info.State.Msgs != 2 || dinfo.State.Msgs != 1 {
		t.Fatalf("input holds %d, dead letters %d; want 2 and 1", info.State.Msgs, dinfo.State.Msgs)
	}
}

func TestReload_NewRoutesApplyFromTheNextCycle(t *testing.T) {
	e := newE2E(t, retensim.WithTasks(5))
	path := e.configFile("")
	a := e.app("", appOptions{})
	sub := e.subscribe()
	nc, _ := nats.Connect(e.nats.URL())
	defer nc.Close()
	moved := make(chan string, 100)
	if _, err := nc.Subscribe("moved.>", func(m *nats.Msg) { moved <- m.Subject }); err != nil {
		t.Fatal(err)
	}
	_ = nc.Flush()
	cycle(t, a)
	relaytest.WaitFor(t, e2eWait, "the first sync", func() bool { return sub.count(schema.OpCreated) == 5 })

	cfg, _ := os.ReadFile(path)
	broken := strings.Replace(string(cfg), `subject: "reten.tasks.{op}.{channel}"`, `subject: "reten.tasks.{nope}"`, 1)
	_ = os.WriteFile(path, []byte(broken), 0o600)
	a.reload(path, noEnv, "test") // refused: the old routes stay
	_ = os.WriteFile(path, []byte(strings.Replace(string(cfg), `subject: "reten.tasks.{op}.{channel}"`, `subject: "moved.{op}"`, 1)), 0o600)
	a.reload(path, noEnv, "test")
	e.sim.AddTasks(1)
	cycle(t, a)
	select {
	case s := <-moved:
		if s != "moved.created" {
			t.Fatalf("got %s", s)
		}
	case <-time.After(e2eWait):
		t.Fatal("the new route got nothing")
	}
}

func TestDLQReplay_Kafka(t *testing.T) {
	e := newE2E(t)
	k := relaytest.StartKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := &kafka.Writer{Addr: kafka.TCP(k.Brokers()...), RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, AllowAutoTopicCreation: true}
	defer w.Close()
	if err := w.WriteMessages(ctx, kafka.Message{Topic: "reten-results", Value: []byte(`{}`)}); err != nil { // the input topic exists
		t.Fatal(err)
	}
	for i := range 2 {
		dl, _ := json.Marshal(schema.DeadLetter{Reason: schema.ReasonConflict, Message: json.RawMessage(`{"n":1}`)})
		if err := w.WriteMessages(ctx, kafka.Message{Topic: "reten-dlq", Key: []byte{byte('a' + i)}, Value: dl}); err != nil {
			t.Fatal(err)
		}
	}
	path := e.configFile(resultsConfig("kafka") + "kafka: {brokers: [\"" + k.Brokers()[0] + "\"], create_topics: true}\n")
	code, out, stderr := runCLI(t, ctx, "dlq", "replay", "-config", path, "-rate", "1000")
	if code != exitOK || !strings.Contains(out, "replayed 2 dead letters from reten-dlq") {
		t.Fatalf("exit %d: %s %s", code, out, stderr)
	}
}
