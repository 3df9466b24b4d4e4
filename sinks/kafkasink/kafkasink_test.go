package kafkasink_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/reten/reten-relay/relay"
	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/sinks/kafkasink"
	"github.com/reten/reten-relay/sinks/sinktest"
)

// testTimeout bounds every blocking step of these tests.
const testTimeout = 20 * time.Second

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// newSink builds a sink on brokers; t.Cleanup closes it.
func newSink(t testing.TB, brokers []string, cfg kafkasink.Config) *kafkasink.Sink {
	t.Helper()
	cfg.Brokers = brokers
	s, err := kafkasink.New(testContext(t), cfg)
	if err != nil {
		t.Fatalf("new sink: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// createTopic creates topic with partitions directly, as an operator would.
func createTopic(t testing.TB, brokers []string, topic string, partitions int) {
	t.Helper()
	c := &kafka.Client{Addr: kafka.TCP(brokers...)}
	resp, err := c.CreateTopics(testContext(t), &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
		{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1},
	}})
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	if err := resp.Errors[topic]; err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// endOffsets returns each partition's end offset of topic.
func endOffsets(t testing.TB, c *kafka.Client, topic string) map[int]int64 {
	t.Helper()
	meta, err := c.Metadata(testContext(t), &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(meta.Topics) != 1 || meta.Topics[0].Error != nil {
		t.Fatalf("metadata of %s: %v %+v", topic, err, meta)
	}
	var reqs []kafka.OffsetRequest
	for _, p := range meta.Topics[0].Partitions {
		reqs = append(reqs, kafka.LastOffsetOf(p.ID))
	}
	resp, err := c.ListOffsets(testContext(t), &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		t.Fatalf("list offsets of %s: %v", topic, err)
	}
	ends := map[int]int64{}
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			t.Fatalf("list offsets of %s/%d: %v", topic, po.Partition, po.Error)
		}
		ends[po.Partition] = po.LastOffset
	}
	return ends
}

// readTopic waits until topic holds n records, then reads every partition from its start.
// Records come partition by partition, each partition in order.
func readTopic(t testing.TB, brokers []string, topic string, n int) []sinktest.Received {
	t.Helper()
	c := &kafka.Client{Addr: kafka.TCP(brokers...)}
	var ends map[int]int64
	relaytest.WaitFor(t, testTimeout, fmt.Sprintf("%d records in %s", n, topic), func() bool {
		ends = endOffsets(t, c, topic)
		var total int64
		for _, end := range ends {
			total += end
		}
		return total >= int64(n)
	})
	var got []sinktest.Received
	for p, end := range ends {
		if end == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p, MaxWait: 50 * time.Millisecond})
		for range end {
			m, err := r.ReadMessage(testContext(t))
			if err != nil {
				t.Fatalf("read %s/%d: %v", topic, p, err)
			}
			rec := sinktest.Received{Key: string(m.Key), Headers: map[string]string{}, Body: m.Value}
			for _, h := range m.Headers {
				rec.Headers[h.Key] = string(h.Value)
			}
			rec.ID = rec.Headers[kafkasink.HeaderID]
			got = append(got, rec)
		}
		_ = r.Close()
	}
	return got
}

func TestSink_Conformance(t *testing.T) {
	k := relaytest.StartKafka(t)
	var n atomic.Int64
	sinktest.Run(t, func(t *testing.T) relay.Sink {
		return newSink(t, k.Brokers(), kafkasink.Config{})
	}, sinktest.Features{
		ErrClosed: kafkasink.ErrClosed,
		NewDestination: func(t *testing.T) string {
			topic := fmt.Sprintf("sinktest-%d", n.Add(1))
			createTopic(t, k.Brokers(), topic, 3)
			return topic
		},
		Read: func(t *testing.T, topic string, n int) []sinktest.Received {
			return readTopic(t, k.Brokers(), topic, n)
		},
		Timeout: testTimeout,
	})
}
