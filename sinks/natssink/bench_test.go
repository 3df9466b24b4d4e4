package natssink_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/sinks/natssink"
)

// BenchmarkPublish measures JetStream publishes in batches of 1000, waiting for every
// PubAck of a batch before the next one.
func BenchmarkPublish(b *testing.B) {
	srv := relaytest.StartNATS(b)
	_, js := connect(b, srv.URL())
	createStream(b, js, "BENCH", "bench.>")
	s := newSink(b, srv.URL(), natssink.Config{}, quietLogger)
	const batch = 1000
	body := []byte(`{"specversion":"1.0","type":"ai.reten.task.updated","data":{"op":"updated","task":{"id":"t","status":"open"}}}`)
	msgs := make([]schema.Message, batch)
	ctx := testContext(b)
	for i := 0; b.Loop(); i++ {
		for j := range msgs {
			msgs[j] = schema.Message{Destination: "bench.tasks", ID: fmt.Sprintf("%d-%d", i, j), Body: body}
		}
		if err := s.Publish(ctx, msgs); err != nil {
			b.Fatalf("publish: %v", err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkPublish_OneSubjectPerTask is the shipped `reten.pending.{id}` route on a first
// sync: every message has a subject of its own. It reports the JetStream API requests the
// sink makes per 1000 messages: stream decisions come from the streams' subject filters in
// memory, not from one server lookup (and one cache entry) per subject.
func BenchmarkPublish_OneSubjectPerTask(b *testing.B) {
	srv := relaytest.StartNATS(b)
	nc, js := connect(b, srv.URL())
	createStream(b, js, "BENCH", "bench.byid.*")
	var apiRequests atomic.Int64
	if _, err := nc.Subscribe("$JS.API.>", func(*nats.Msg) { apiRequests.Add(1) }); err != nil {
		b.Fatal(err)
	}
	_ = nc.Flush()
	s := newSink(b, srv.URL(), natssink.Config{}, quietLogger)
	const batch = 1000
	body := []byte(`{"specversion":"1.0","type":"ai.reten.task.created","data":{"op":"created","task":{"id":"t","status":"PENDING"}}}`)
	msgs := make([]schema.Message, batch)
	ctx := testContext(b)
	for i := 0; b.Loop(); i++ {
		for j := range msgs {
			id := fmt.Sprintf("%d-%d", i, j)
			msgs[j] = schema.Message{Destination: "bench.byid." + id, ID: id, Body: body}
		}
		if err := s.Publish(ctx, msgs); err != nil {
			b.Fatalf("publish: %v", err)
		}
	}
	_ = nc.Flush()
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(apiRequests.Load())/float64(b.N), "js-api-requests/1000msgs")
}
