package relaytest_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/segmentio/kafka-go"

	"github.com/reten/reten-relay/relay/relaytest"
)

func TestStartNATS_SurvivesRestartOnSamePort(t *testing.T) {
	n := relaytest.StartNATS(t)
	nc, err := nats.Connect(n.URL())
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
	n.Stop()
	n.Start()
	nc, err = nats.Connect(n.URL())
	if err != nil {
		t.Fatalf("reconnect after restart: %v", err)
	}
	nc.Close()
}

func TestStartKafka_KafkaGoRoundTrip(t *testing.T) {
	k := relaytest.StartKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w := &kafka.Writer{Addr: kafka.TCP(k.Brokers()...), Topic: "smoke", RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, AllowAutoTopicCreation: true}
	defer w.Close()
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("k"), Value: []byte("v")}); err != nil {
		t.Fatalf("write: %v", err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: k.Brokers(), Topic: "smoke", GroupID: "g", MaxWait: 100 * time.Millisecond})
	defer r.Close()
	m, err := r.ReadMessage(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if string(m.Value) != "v" {
		t.Fatalf("got %q", m.Value)
	}
}
