package kafkasink_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/sinks/kafkasink"
)

func TestSink_RecordCarriesKeyIDAndHeaders(t *testing.T) {
	k := relaytest.StartKafka(t)
	createTopic(t, k.Brokers(), "tasks", 1)
	s := newSink(t, k.Brokers(), kafkasink.Config{})
	m := schema.Message{
		Destination: "tasks",
		Key:         "task-1",
		ID:          "ev-1",
		Headers: map[string]string{
			"ce_specversion": "1.0", "ce_type": "ai.reten.task.created",
			"ce_source": "https://reten.example", "ce_subject": "task-1",
		},
		Body: []byte(`{"op":"created"}`),
	}
	if err := s.Publish(testContext(t), []schema.Message{m}); err != nil {
		t.Fatalf("publish: %v", err)
	}
	got := readTopic(t, k.Brokers(), "tasks", 1)[0]
	want := map[string]string{"ce_id": "ev-1", "content-type": "application/json"}
	for k, v := range m.Headers {
		want[k] = v
	}
	if got.Key != "task-1" || string(got.Body) != `{"op":"created"}` {
		t.Errorf("key %q body %s, want task-1 and the body as given", got.Key, got.Body)
	}
	if fmt.Sprint(got.Headers) != fmt.Sprint(want) {
		t.Errorf("headers:\n got %v\nwant %v", got.Headers, want)
	}
}

func TestSink_EachTaskStaysInOnePartitionInOrder(t *testing.T) {
	k := relaytest.StartKafka(t)
	createTopic(t, k.Brokers(), "tasks", 4)
	s := newSink(t, k.Brokers(), kafkasink.Config{})
	const tasks, changes = 8, 50
	var msgs []schema.Message
	for c := range changes {
		for task := range tasks {
			msgs = append(msgs, schema.Message{
				Destination: "tasks", Key: fmt.Sprintf("task-%d", task),
				ID: fmt.Sprintf("task-%d/%d", task, c), Body: []byte("{}"),
			})
		}
	}
	if err := s.Publish(testContext(t), msgs); err != nil {
		t.Fatalf("publish: %v", err)
	}
	c := &kafka.Client{Addr: kafka.TCP(k.Brokers()...)}
	used := 0
	for _, end := range endOffsets(t, c, "tasks") {
		if end > 0 {
			used++
		}
	}
	if used < 2 {
		t.Fatalf("%d tasks went to %d partitions: the test needs several", tasks, used)
	}
	next := map[string]int{}
	for _, r := range readTopic(t, k.Brokers(), "tasks", len(msgs)) {
		if want := fmt.Sprintf("%s/%d", r.Key, next[r.Key]); r.ID != want {
			t.Fatalf("got %s, want %s: a task's order was broken", r.ID, want)
		}
		next[r.Key]++
	}
	for task := range tasks {
		if n := next[fmt.Sprintf("task-%d", task)]; n != changes {
			t.Fatalf("task-%d: %d of %d changes arrived", task, n, changes)
		}
	}
}

func TestSink_EnsureTopics(t *testing.T) {
	k := relaytest.StartKafka(t)
	createTopic(t, k.Brokers(), "existing", 2)
	tests := []struct {
		name         string
		createTopics bool
		topics       []string
		withError    func(t *testing.T, err error)
	}{
		{"A missing topic is an error naming it when creating is off", false, []string{"existing", "absent"},
			func(t *testing.T, err error) {
				if !errors.Is(err, kafkasink.ErrTopicMissing) || !strings.Contains(err.Error(), "absent") || strings.Contains(err.Error(), "existing") {
					t.Fatalf("got %v, want ErrTopicMissing naming only absent", err)
				}
			}},
		{"A missing topic is created when creating is on", true, []string{"existing", "created"}, nil},
		{"An existing topic is fine either way", false, []string{"existing"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSink(t, k.Brokers(), kafkasink.Config{CreateTopics: tt.createTopics, Partitions: 3})
			err := s.EnsureTopics(testContext(t), tt.topics)
			if tt.withError != nil {
				tt.withError(t, err)
				return
			}
			if err != nil {
				t.Fatalf("ensure %v: %v", tt.topics, err)
			}
			for _, topic := range tt.topics {
				if err := s.Publish(testContext(t), []schema.Message{{Destination: topic, Key: "k", ID: "1"}}); err != nil {
					t.Fatalf("publish to %s: %v", topic, err)
				}
			}
			if ends := endOffsets(t, &kafka.Client{Addr: kafka.TCP(k.Brokers()...)}, "existing"); len(ends) != 2 {
				t.Fatalf("existing topic has %d partitions, want its own 2", len(ends))
			}
		})
	}
}

func TestSink_RejectedRecordsAreNamedInTheError(t *testing.T) {
	k := relaytest.StartKafka(t)
	createTopic(t, k.Brokers(), "tasks", 1)
	s := newSink(t, k.Brokers(), kafkasink.Config{})
	k.Cluster.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		preq := req.(*kmsg.ProduceRequest)
		resp := preq.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range preq.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.PolicyViolation.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	msgs := []schema.Message{{Destination: "tasks", Key: "a", ID: "ev-a"}, {Destination: "tasks", Key: "b", ID: "ev-b"}}
	err := s.Publish(testContext(t), msgs)
	var werr *kafkasink.WriteError
	if !errors.As(err, &werr) {
		t.Fatalf("got %v, want a *WriteError", err)
	}
	if werr.Total != 2 || len(werr.Failed) != 2 || werr.Failed[0].ID != "ev-a" || werr.Failed[1].ID != "ev-b" {
		t.Fatalf("got %+v, want both messages named", werr)
	}
	if !errors.Is(err, kafka.PolicyViolation) || !strings.Contains(err.Error(), "message ev-a to tasks") {
		t.Fatalf("error %q does not carry the broker's reason and the message ids", err)
	}
}

func TestSink_PublishFailsWhileTheBrokerIsDownAndWorksAfterItReturns(t *testing.T) {
	k := relaytest.StartKafka(t)
	createTopic(t, k.Brokers(), "tasks", 1)
	s := newSink(t, k.Brokers(), kafkasink.Config{MaxAttempts: 2})
	var down atomic.Bool
	k.Cluster.ControlKey(-1, func(kmsg.Request) (kmsg.Response, error, bool) {
		if !down.Load() {
			return nil, nil, false
		}
		k.Cluster.KeepControl()
		return nil, errors.New("broker down"), true // closes the client's connection
	})
	msg := func(id string) []schema.Message { return []schema.Message{{Destination: "tasks", Key: "t", ID: id}} }
	if err := s.Publish(testContext(t), msg("before")); err != nil {
		t.Fatalf("publish before the outage: %v", err)
	}

	down.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Publish(ctx, msg("during")) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("publish during the outage returned nil")
		}
		t.Logf("publish failed as expected: %v", err)
	case <-time.After(testTimeout):
		t.Fatalf("publish during the outage did not return within %s", testTimeout)
	}

	down.Store(false)
	if err := s.Publish(testContext(t), msg("after")); err != nil {
		t.Fatalf("publish after the outage: %v", err)
	}
	ids := map[string]bool{}
	for _, r := range readTopic(t, k.Brokers(), "tasks", 2) {
		ids[r.ID] = true
	}
	if !ids["before"] || !ids["after"] {
		t.Fatalf("got %v, want before and after", ids)
	}
}

func TestNew_RejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  kafkasink.Config
		want string
	}{
		{"No brokers", kafkasink.Config{}, "brokers must not be empty"},
		{"An empty broker", kafkasink.Config{Brokers: []string{""}}, "brokers[0] must not be empty"},
		{"A negative batch timeout", kafkasink.Config{Brokers: []string{"b:9092"}, BatchTimeout: -time.Second}, "batch_timeout must be >= 0, got -1s"},
		{"Zero partitions below -1", kafkasink.Config{Brokers: []string{"b:9092"}, Partitions: -2}, "partitions must be > 0 or -1, got -2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := kafkasink.New(context.Background(), tt.cfg)
			if !errors.Is(err, kafkasink.ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want ErrInvalidConfig containing %q", err, tt.want)
			}
		})
	}
}
