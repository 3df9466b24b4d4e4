package natssink_test

import (
	"fmt"
	"testing"

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
