package kafkaresults_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/sources/kafkaresults"
)

func TestReplay_WritesDeadLettersBackOnceEach(t *testing.T) {
	k := relaytest.StartKafka(t, kfake.SeedTopics(2, "dlq", "input"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := &kafka.Writer{Addr: kafka.TCP(k.Brokers()...), Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	for i := range 3 {
		dl, _ := json.Marshal(schema.DeadLetter{Reason: schema.ReasonRejected, Error: "404", Message: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))})
		err := w.WriteMessages(ctx, kafka.Message{Topic: "dlq", Key: []byte(fmt.Sprintf("task-%d", i)), Value: dl,
			Headers: []kafka.Header{{Key: "trace", Value: []byte("t")}, {Key: "dlq_reason", Value: []byte("rejected")}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	opts := kafkaresults.ReplayOptions{Brokers: k.Brokers(), DeadLetterTopic: "dlq", InputTopic: "input", Limit: 2, Rate: 1000}
	if n, err := kafkaresults.Replay(ctx, opts); err != nil || n != 2 {
		t.Fatalf("first replay: %d, %v", n, err)
	}
	opts.Limit = 0
	if n, err := kafkaresults.Replay(ctx, opts); err != nil || n != 1 {
		t.Fatalf("second replay: %d, %v; want the one left", n, err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: k.Brokers(), Topic: "input", GroupID: "check", StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	seen := map[string]string{}
	for range 3 {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range m.Headers {
			if h.Key == "dlq_reason" {
				t.Fatal("the replayed record kept dlq_reason")
			}
		}
		seen[string(m.Key)] = string(m.Value)
	}
	for i := range 3 {
		if got := seen[fmt.Sprintf("task-%d", i)]; got != fmt.Sprintf(`{"n":%d}`, i) {
			t.Fatalf("task-%d replayed as %q", i, got)
		}
	}
}
