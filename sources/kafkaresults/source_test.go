package kafkaresults_test

import (
	"context"
	"fmt"
	"sort"
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

func setup(t *testing.T, n int) (*relaytest.Kafka, context.Context) {
	t.Helper()
	k := relaytest.StartKafka(t, kfake.SeedTopics(3, "results"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	w := &kafka.Writer{Addr: kafka.TCP(k.Brokers()...), Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	var msgs []kafka.Message
	for i := range n {
		msgs = append(msgs, kafka.Message{Topic: "results", Key: []byte(fmt.Sprintf("task-%d", i%7)), Value: []byte(fmt.Sprint(i)),
			Headers: []kafka.Header{{Key: "trace", Value: []byte("t")}}})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	return k, ctx
}

func open(t *testing.T, ctx context.Context, k *relaytest.Kafka, group string) *kafkaresults.Source {
	t.Helper()
	s, err := kafkaresults.New(ctx, kafkaresults.Config{Brokers: k.Brokers(), Topic: "results", Group: group, SessionTimeout: 6 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func receiveN(t *testing.T, ctx context.Context, s *kafkaresults.Source, n int) []schema.Received {
	t.Helper()
	var out []schema.Received
	for len(out) < n {
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		m, err := s.Receive(rctx)
		cancel()
		if err != nil {
			t.Fatalf("after %d of %d: %v", len(out), n, err)
		}
		out = append(out, m)
	}
	return out
}

func bodies(ms []schema.Received) []string {
	var out []string
	for _, m := range ms {
		out = append(out, string(m.Body))
	}
	sort.Strings(out)
	return out
}

func TestSource_CommitsOnlyTheSettledPrefixOfEachPartition(t *testing.T) {
	k, ctx := setup(t, 30)
	s := open(t, ctx, k, "g1")
	got := receiveN(t, ctx, s, 30)
	if got[0].Headers["trace"] != "t" || got[0].Key == "" || got[0].Origin.Topic != "results" || got[0].Deliveries != 1 {
		t.Fatalf("first message = %+v", got[0])
	}
	// Per partition, settle every message except the second one.
	seen := map[int]int{}
	var unsettled []string
	for _, m := range got {
		seen[m.Origin.Partition]++
		if seen[m.Origin.Partition] == 2 {
			unsettled = append(unsettled, string(m.Body))
			continue
		}
		if err := m.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	_ = s.Close(ctx)
	// The next member gets, per partition, everything from the unsettled message on.
	again := open(t, ctx, k, "g1")
	want := 0
	for _, n := range seen {
		want += n - 1
	}
	redelivered := receiveN(t, ctx, again, want)
	for _, u := range unsettled {
		found := false
		for _, m := range redelivered {
			found = found || string(m.Body) == u
		}
		if !found {
			t.Fatalf("unsettled message %s was not redelivered; got %v", u, bodies(redelivered))
		}
	}
}

func TestSource_RetryDeliversAgainWhileOthersFlow(t *testing.T) {
	k, ctx := setup(t, 5)
	s := open(t, ctx, k, "g2")
	first := receiveN(t, ctx, s, 1)[0]
	if err := first.Retry(ctx, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	rest := receiveN(t, ctx, s, 5) // the other 4, and the first one again
	var again *schema.Received
	for i := range rest {
		if rest[i].Origin == first.Origin {
			again = &rest[i]
		}
	}
	if again == nil || again.Deliveries != 2 || !again.FirstDelivered.Equal(first.FirstDelivered) {
		t.Fatalf("redelivery = %+v", again)
	}
}

func TestSource_ANewGroupStartsAtTheEarliestOffset(t *testing.T) {
	k, ctx := setup(t, 4)
	s := open(t, ctx, k, "brand-new-group")
	if got := bodies(receiveN(t, ctx, s, 4)); fmt.Sprint(got) != "[0 1 2 3]" {
		t.Fatalf("got %v", got)
	}
}
