package kafkasink_test

import (
	"fmt"
	"testing"

	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/sinks/kafkasink"
)

// BenchmarkPublish measures batches of 1000 messages over 100 task keys to a topic of 3
// partitions, each batch acknowledged by the broker before the next.
func BenchmarkPublish(b *testing.B) {
	k := relaytest.StartKafka(b)
	createTopic(b, k.Brokers(), "bench", 3)
	s := newSink(b, k.Brokers(), kafkasink.Config{})
	const batch = 1000
	body := []byte(`{"specversion":"1.0","type":"ai.reten.task.updated","data":{"op":"updated","task":{"id":"t","status":"open"}}}`)
	msgs := make([]schema.Message, batch)
	ctx := testContext(b)
	for i := 0; b.Loop(); i++ {
		for j := range msgs {
			msgs[j] = schema.Message{Destination: "bench", Key: fmt.Sprintf("task-%d", j%100), ID: fmt.Sprintf("%d-%d", i, j), Body: body}
		}
		if err := s.Publish(ctx, msgs); err != nil {
			b.Fatalf("publish: %v", err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "msgs/s")
}
