package kafkaresults_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/reten/reten-relay/relay"
	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/sources/kafkaresults"
)

var _ relay.ResultSource = (*kafkaresults.Source)(nil)

const topic = "reten.results"

// startKafka starts a cluster with the results topic in partitions partitions, allowing
// the short session timeouts that keep group joins fast.
func startKafka(t *testing.T, partitions int32) (*relaytest.Kafka, context.Context) {
	t.Helper()
	k := relaytest.StartKafka(t, kfake.SeedTopics(partitions, topic), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return k, ctx
}

// fastConfig is a Config for tests: quick heartbeats, short fetch waits.
func fastConfig(k *relaytest.Kafka) kafkaresults.Config {
	return kafkaresults.Config{
		Brokers:           k.Brokers(),
		Topic:             topic,
		SessionTimeout:    time.Second,
		HeartbeatInterval: 100 * time.Millisecond,
		RebalanceTimeout:  time.Second,
		JoinGroupBackoff:  100 * time.Millisecond,
		MaxWait:           100 * time.Millisecond,
	}
}

func newSource(t *testing.T, ctx context.Context, cfg kafkaresults.Config) *kafkaresults.Source {
	t.Helper()
	s, err := kafkaresults.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// produce writes one record per partition in partitions, n times, with key "p<partition>-<i>".
func produce(t *testing.T, ctx context.Context, k *relaytest.Kafka, n int, partitions ...int) {
	t.Helper()
	w := &kafka.Writer{
		Addr: kafka.TCP(k.Brokers()...), Topic: topic, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond,
		Balancer: kafka.BalancerFunc(func(m kafka.Message, _ ...int) int { return m.Partition }),
	}
	defer w.Close()
	var msgs []kafka.Message
	for i := range n {
		for _, p := range partitions {
			key := fmt.Sprintf("p%d-%d", p, i)
			msgs = append(msgs, kafka.Message{Partition: p, Key: []byte(key), Value: []byte(`{"k":"` + key + `"}`),
				Headers: []kafka.Header{{Key: "ce_id", Value: []byte("id-" + key)}}})
		}
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

func receive(t *testing.T, ctx context.Context, s *kafkaresults.Source) schema.Received {
	t.Helper()
	rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	m, err := s.Receive(rctx)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	return m
}

func ack(t *testing.T, ctx context.Context, m schema.Received) {
	t.Helper()
	if err := m.Ack(ctx); err != nil {
		t.Fatalf("ack %s: %v", m.Key, err)
	}
}
