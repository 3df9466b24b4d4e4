package natsstate_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/relay/tasks"
	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/sinks/natsstate"
)

func connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// open opens the bucket as replica on a connection of its own.
func open(t *testing.T, url, replica string, ttl time.Duration) *natsstate.Store {
	t.Helper()
	s, err := natsstate.Open(context.Background(), connect(t, url), natsstate.Config{Bucket: "STATE", Replica: replica, LeaseTTL: ttl})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s
}

// holder opens the bucket and takes the lease.
func holder(t *testing.T, url, replica string) *natsstate.Store {
	t.Helper()
	s := open(t, url, replica, 10*time.Second)
	if ok, err := s.Lease().TryAcquire(context.Background()); !ok || err != nil {
		t.Fatalf("%s could not take a free lease: %v %v", replica, ok, err)
	}
	return s
}

func index(t *testing.T, s *natsstate.Store) map[string]schema.TaskEntry {
	t.Helper()
	m := map[string]schema.TaskEntry{}
	if err := s.LoadIndex(context.Background(), func(id string, e schema.TaskEntry) { m[id] = e }); err != nil {
		t.Fatalf("load index: %v", err)
	}
	return m
}

func TestStore_CommitIsReadByAnotherReplica(t *testing.T) {
	ctx := context.Background()
	n := relaytest.StartNATS(t)
	s := holder(t, n.URL(), "a")
	live := schema.TaskEntry{RawHash: 7, Content: 12, ChangeNo: 3, Suspect: true}
	gone := schema.TaskEntry{ChangeNo: 9, Deleted: true, DeletedAt: 1700000000}
	odd := "task id/with spaces.and dots" // not a KV key token as it is
	err := s.Commit(ctx, schema.StateCommit{
		Entries: []schema.TaskEntryUpdate{{ID: "a", Entry: live, Published: []byte(`{"id":"a"}`)}, {ID: "b", Entry: gone}, {ID: odd, Entry: live, Published: []byte(`{}`)}},
		Events: []schema.OutboxEvent{{
			Head: schema.EventHead{TaskID: "a", EventID: "e1", Op: schema.OpUpdated, Source: "src"}, Body: []byte(`{"x":1}`),
			Targets: []schema.QueuedTarget{{Route: "r", Sink: "nats", Destination: "d", Key: "k"}},
		}},
		Meta: schema.StateMeta{Synced: true, GuardCycles: 2},
	})
	if err != nil {
		t.Fatalf("commit: %v", err)
	}
	other := open(t, n.URL(), "b", 10*time.Second)
	if got := index(t, other); got["a"] != live || got["b"] != gone || got[odd] != live || len(got) != 3 {
		t.Fatalf("index = %+v", got)
	}
	pub, err := other.LoadPublished(ctx, []string{"a", "b", "nope", odd})
	if err != nil || string(pub["a"]) != `{"id":"a"}` || string(pub[odd]) != `{}` || len(pub) != 2 {
		t.Fatalf("published = %q, %v", pub, err)
	}
	if m, err := other.LoadMeta(ctx); err != nil || m != (schema.StateMeta{Synced: true, GuardCycles: 2}) {
		t.Fatalf("meta = %+v, %v", m, err)
	}
	if _, err := other.Outbox(ctx, "nats", nil, 10); !errors.Is(err, natsstate.ErrNotHolder) {
		t.Fatalf("a follower read the outbox: %v", err)
	}
	if p, err := other.Pending(ctx); err != nil || p["nats"] != 1 {
		t.Fatalf("pending = %v, %v", p, err)
	}
	out, err := s.Outbox(ctx, "nats", nil, 10)
	if err != nil || len(out) != 1 || out[0].Head != (schema.EventHead{TaskID: "a", EventID: "e1", Op: schema.OpUpdated, Source: "src"}) ||
		string(out[0].Body) != `{"x":1}` || out[0].Pos.Seq == 0 || out[0].Target.Route != "r" || out[0].Target.Destination != "d" ||
		out[0].Target.Key != "k" || out[0].Target.Body != nil {
		t.Fatalf("outbox = %+v, %v", out, err)
	}
}

func TestStore_QueuesPerSinkAreOrderedAndAckRemoves(t *testing.T) {
	ctx := context.Background()
	url := relaytest.StartNATS(t).URL()
	s := holder(t, url, "a")
	for _, batch := range [][]string{{"1", "2", "3"}, {"4", "5"}} {
		var evs []schema.OutboxEvent
		for _, id := range batch {
			evs = append(evs, schema.OutboxEvent{
				Head: schema.EventHead{TaskID: "t", EventID: id, Op: schema.OpCreated}, Body: []byte(id),
				Targets: []schema.QueuedTarget{{Sink: "nats", Destination: "n"}, {Sink: "kafka", Destination: "k", Body: []byte("trim" + id)}, {Sink: "nats", Destination: "m"}},
			})
		}
		if err := s.Commit(ctx, schema.StateCommit{Events: evs}); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(qs []schema.Queued) (s string) {
		for _, q := range qs {
			s += string(q.Body)
		}
		return s
	}
	first, _ := s.Outbox(ctx, "nats", nil, 3) // ends inside event 2
	if ids(first) != "112" {
		t.Fatalf("first three = %q", ids(first))
	}
	if next, _ := s.Outbox(ctx, "nats", &first[2].Pos, 10); ids(next) != "2334455" {
		t.Fatalf("after the first three = %q", ids(next))
	}
	if err := s.Ack(ctx, "nats", []schema.QueuePos{first[0].Pos, first[1].Pos, first[2].Pos, first[0].Pos}); err != nil {
		t.Fatalf("ack: %v", err)
	}
	if rest, _ := s.Outbox(ctx, "nats", nil, 10); ids(rest) != "2334455" {
		t.Fatalf("after ack nats queue = %q, want 2334455", ids(rest))
	}
	k, err := s.Outbox(ctx, "kafka", nil, 10)
	if err != nil || ids(k) != "trim1trim2trim3trim4trim5" {
		t.Fatalf("kafka queue = %q, %v", ids(k), err)
	}
	if n, err := s.Pending(ctx); err != nil || n["nats"] != 8 || n["kafka"] != 5 {
		t.Fatalf("pending = %v, %v (event 1's record is gone, event 2's is half acked)", n, err)
	}
	var all []schema.QueuePos
	for _, q := range k {
		all = append(all, q.Pos)
	}
	if err := s.Ack(ctx, "kafka", all); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Pending(ctx); n["kafka"] != 0 {
		t.Fatalf("pending after kafka's ack = %v", n)
	}
	// A new holder sees what is left, the half-acked event whole (same ids again).
	if err := s.Lease().Release(ctx); err != nil {
		t.Fatal(err)
	}
	s2 := holder(t, url, "b")
	if rest, _ := s2.Outbox(ctx, "nats", nil, 10); ids(rest) != "22334455" {
		t.Fatalf("new holder's nats queue = %q", ids(rest))
	}
}

// The KV store is a tasks.StateStore (asserted here: sinks import only schema).
var _ tasks.StateStore = (*natsstate.Store)(nil)
