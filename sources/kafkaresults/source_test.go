package kafkaresults_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/reten/reten-relay/sources/kafkaresults"
)

func TestSource_DeliversEveryMessageOfEveryPartition(t *testing.T) {
	k, ctx := startKafka(t, 3)
	s := newSource(t, ctx, fastConfig(k))
	produce(t, ctx, k, 10, 0, 1, 2)

	seen := map[string]bool{}
	for range 30 {
		m := receive(t, ctx, s)
		want := fmt.Sprintf("p%d-%d", m.Origin.Partition, m.Origin.Offset)
		if m.Key != want || string(m.Body) != `{"k":"`+want+`"}` || m.Headers["ce_id"] != "id-"+want ||
			m.Origin.Topic != topic || m.Deliveries != 1 || m.FirstDelivered.IsZero() || m.InProgress != nil {
			t.Fatalf("received %+v, want key %s", m, want)
		}
		if seen[m.Key] {
			t.Fatalf("%s delivered twice", m.Key)
		}
		seen[m.Key] = true
		ack(t, ctx, m)
	}
}

func TestSource_NewGroupStartsAtTheEarliestOffset(t *testing.T) {
	k, ctx := startKafka(t, 1)
	produce(t, ctx, k, 5, 0) // before the group ever existed
	s := newSource(t, ctx, fastConfig(k))
	for i := range 5 {
		if m := receive(t, ctx, s); m.Origin.Offset != int64(i) {
			t.Fatalf("message %d has offset %d: earlier records were skipped", i, m.Origin.Offset)
		}
	}
}

func TestSource_CommitsOnlyTheSettledPrefixOfEachPartition(t *testing.T) {
	k, ctx := startKafka(t, 2)
	produce(t, ctx, k, 6, 0, 1)
	first := newSource(t, ctx, fastConfig(k))
	byOffset := map[int]map[int64]func(context.Context) error{0: {}, 1: {}}
	for range 12 {
		m := receive(t, ctx, first)
		byOffset[m.Origin.Partition][m.Origin.Offset] = m.Ack
	}
	// Partition 0: 0, 1, 3 and 5 settled, out of order: only 0 and 1 may be committed.
	// Partition 1: everything but 0 settled: nothing may be committed.
	for _, settle := range []struct {
		partition int
		offsets   []int64
	}{{0, []int64{3, 1, 5, 0}}, {1, []int64{5, 4, 3, 2, 1}}} {
		for _, off := range settle.offsets {
			if err := byOffset[settle.partition][off](ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := first.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}

	second := newSource(t, ctx, fastConfig(k))
	got := map[int][]int64{}
	for range 4 + 6 {
		m := receive(t, ctx, second)
		got[m.Origin.Partition] = append(got[m.Origin.Partition], m.Origin.Offset)
		ack(t, ctx, m)
	}
	if want := []int64{2, 3, 4, 5}; !slices.Equal(got[0], want) {
		t.Fatalf("partition 0 redelivered %v, want %v", got[0], want)
	}
	if want := []int64{0, 1, 2, 3, 4, 5}; !slices.Equal(got[1], want) {
		t.Fatalf("partition 1 redelivered %v, want %v", got[1], want)
	}
}

func TestSource_RetryDeliversTheMessageAgainAfterTheDelay(t *testing.T) {
	k, ctx := startKafka(t, 1)
	s := newSource(t, ctx, fastConfig(k))
	produce(t, ctx, k, 1, 0)
	m := receive(t, ctx, s)
	if err := m.Retry(ctx, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := m.Ack(ctx); !errors.Is(err, kafkaresults.ErrAlreadySettled) {
		t.Fatalf("ack after retry = %v, want ErrAlreadySettled", err)
	}
	again := receive(t, ctx, s)
	if again.Deliveries != 2 || again.Origin != m.Origin || !again.FirstDelivered.Equal(m.FirstDelivered) || string(again.Body) != string(m.Body) {
		t.Fatalf("redelivered %+v, first %+v", again, m)
	}
	ack(t, ctx, again)
}

func TestSource_AWaitingPartitionDoesNotHoldBackTheOthers(t *testing.T) {
	k, ctx := startKafka(t, 2)
	cfg := fastConfig(k)
	cfg.MaxInFlight = 1
	s := newSource(t, ctx, cfg)
	produce(t, ctx, k, 3, 0)
	head := receive(t, ctx, s)
	if head.Origin.Partition != 0 || head.Origin.Offset != 0 {
		t.Fatalf("first message is %+v, want partition 0's head", head.Origin)
	}
	// The head waits for an hour; with one message in flight per partition, nothing more of
	// partition 0 may come, while partition 1 flows.
	if err := head.Retry(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	produce(t, ctx, k, 3, 1)
	for i := range 3 {
		m := receive(t, ctx, s)
		if m.Origin.Partition != 1 || m.Origin.Offset != int64(i) {
			t.Fatalf("got %s while partition 0 was waiting, want partition 1 offset %d", m.Key, i)
		}
		ack(t, ctx, m)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if m, err := s.Receive(short); err == nil {
		t.Fatalf("partition 0 delivered %s while its head was waiting", m.Key)
	}
}

func TestSource_ReceiveAfterCloseSaysClosed(t *testing.T) {
	k, ctx := startKafka(t, 1)
	s := newSource(t, ctx, fastConfig(k))
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Receive(ctx); !errors.Is(err, kafkaresults.ErrClosed) {
		t.Fatalf("Receive() after Close = %v, want ErrClosed", err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestNew_RejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  kafkaresults.Config
	}{
		{"no brokers", kafkaresults.Config{Topic: topic}},
		{"no topic", kafkaresults.Config{Brokers: []string{"127.0.0.1:9092"}}},
		{"negative in-flight cap", kafkaresults.Config{Brokers: []string{"127.0.0.1:9092"}, Topic: topic, MaxInFlight: -1}},
		{"heartbeat not shorter than session", kafkaresults.Config{Brokers: []string{"127.0.0.1:9092"}, Topic: topic,
			HeartbeatInterval: 10 * time.Second, SessionTimeout: 10 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := kafkaresults.New(context.Background(), tt.cfg); !errors.Is(err, kafkaresults.ErrInvalidConfig) {
				t.Fatalf("New() error = %v, want ErrInvalidConfig", err)
			}
		})
	}
}
