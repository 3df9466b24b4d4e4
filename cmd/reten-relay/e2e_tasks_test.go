package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/segmentio/kafka-go"

	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/schema/schematest"
	"github.com/reten/reten-relay/sources/reten/retensim"
)

const e2eWait = 30 * time.Second

func TestE2E_Tasks_FirstSyncThenEachChangeExactlyOnce(t *testing.T) {
	e := newE2E(t, retensim.WithTasks(2000))
	sub := e.subscribe()
	a := e.app("", appOptions{})

	if rep := cycle(t, a); rep.Created != 2000 {
		t.Fatalf("first sync created %d, want 2000", rep.Created)
	}
	relaytest.WaitFor(t, e2eWait, "2000 created events", func() bool { return sub.count(schema.OpCreated) == 2000 })
	// 20 full pages and the empty 21st that proves the end (a full last page cannot).
	if got := e.sim.Requests(retensim.EndpointListTasks); got != 21 {
		t.Errorf("the first sync made %d list requests, want 21 pages", got)
	}
	v := schematest.New(t, schematest.TaskEvent)
	for _, ev := range sub.snapshot() {
		b, _ := json.Marshal(ev)
		if err := v.Validate(b); err != nil {
			t.Fatalf("event %s does not match the schema: %v", ev.ID, err)
		}
	}

	tasks := e.sim.Tasks()
	added := e.sim.AddTasks(3)
	e.sim.UpdateTask(tasks[10].ID, func(task *retensim.Task) { task.Status = "COMPLETED" })
	e.sim.UpdateTask(tasks[1500].ID, func(task *retensim.Task) { task.Status = "CANCELLED" })
	e.sim.DeleteTask(tasks[20].ID)
	e.sim.DeleteTask(tasks[1999].ID)

	if rep := cycle(t, a); rep.Created != 3 || rep.Updated != 2 || rep.Deleted != 0 {
		t.Fatalf("second cycle = %+v, want 3 created, 2 updated and the 2 deletes only suspected", rep)
	}
	if rep := cycle(t, a); rep.Deleted != 2 {
		t.Fatalf("third cycle = %+v, want the 2 deletes confirmed", rep)
	}
	relaytest.WaitFor(t, e2eWait, "every change", func() bool { return len(sub.snapshot()) == 2000+3+2+2 })
	for _, ev := range sub.snapshot()[2000:] {
		switch ev.Data.Op {
		case schema.OpCreated:
			if !slices.ContainsFunc(added, func(x retensim.Task) bool { return x.ID == ev.Subject }) || string(ev.Data.Previous) != "null" && ev.Data.Previous != nil {
				t.Errorf("unexpected created %s", ev.Subject)
			}
		case schema.OpUpdated:
			if fmt.Sprint(ev.Data.Changed) != "[status]" || ev.Data.Previous == nil {
				t.Errorf("update of %s: changed %v, previous %s", ev.Subject, ev.Data.Changed, ev.Data.Previous)
			}
			var prev struct{ Status string }
			_ = json.Unmarshal(ev.Data.Previous, &prev)
			if prev.Status == "COMPLETED" || prev.Status == "CANCELLED" {
				t.Errorf("previous of %s already has the new status", ev.Subject)
			}
		case schema.OpDeleted:
			if ev.Subject != tasks[20].ID && ev.Subject != tasks[1999].ID {
				t.Errorf("deleted a live task %s", ev.Subject)
			}
		}
	}
	if !sameTaskSets(t, sub.taskSet(), simSet(t, e.sim)) {
		t.Fatal("the subscriber's task set differs from the simulator's")
	}

	// A restarted relay on the same state publishes nothing new.
	_ = a.close(context.Background())
	before := len(sub.snapshot())
	again := e.app("", appOptions{})
	if rep := cycle(t, again); rep.Created+rep.Updated+rep.Deleted != 0 {
		t.Fatalf("restart published %+v", rep)
	}
	if n := len(sub.snapshot()); n != before {
		t.Fatalf("restart published %d events", n-before)
	}
}

func TestE2E_Tasks_IncompleteListingsNeverDelete(t *testing.T) {
	e := newE2E(t, retensim.WithTasks(350))
	sub := e.subscribe()
	a := e.app("", appOptions{})
	cycle(t, a)

	e.sim.FailPage(3, 500)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for range 2 {
		if _, err := a.poller.Cycle(ctx); err == nil {
			t.Fatal("a cycle with a failing page succeeded")
		}
	}
	e.sim.ClearFaults()

	// Drift: while the walk is under way, a task on an already fetched page is deleted, so
	// everything after it shifts one place to the front.
	victim := e.sim.Tasks()[5].ID
	e.sim.OnPageServed(func(page int) {
		if page == 2 {
			e.sim.OnPageServed(nil)
			e.sim.DeleteTask(victim)
		}
	})
	_, _ = a.poller.Cycle(ctx) // inconsistent: retried, never a delete
	if n := sub.count(schema.OpDeleted); n != 0 {
		t.Fatalf("%d deleted events from incomplete listings", n)
	}
	cycle(t, a)
	cycle(t, a)
	relaytest.WaitFor(t, e2eWait, "the real delete", func() bool { return sub.count(schema.OpDeleted) == 1 })
	if d := sub.snapshot()[len(sub.snapshot())-1]; d.Subject != victim {
		t.Fatalf("deleted %s, want %s", d.Subject, victim)
	}
}

func TestE2E_Tasks_AnEmptiedListingTripsTheGuard(t *testing.T) {
	e := newE2E(t, retensim.WithTasks(50))
	sub := e.subscribe()
	a := e.app("", appOptions{})
	cycle(t, a)
	for _, task := range e.sim.Tasks() {
		e.sim.DeleteTask(task.ID)
	}
	held := 0
	for range 3 { // suspected, then held while fewer than confirm_cycles (3) listings agree
		held += cycle(t, a).Held
	}
	if n := sub.count(schema.OpDeleted); n != 0 || held == 0 {
		t.Fatalf("%d deletes published, %d held: the guard did not hold an emptied listing", n, held)
	}
	for range 2 {
		cycle(t, a)
	}
	relaytest.WaitFor(t, e2eWait, "the deletes after enough cycles agreed", func() bool { return sub.count(schema.OpDeleted) == 50 })
}

func TestE2E_Tasks_ReturningContentIsANewChangeNotADuplicate(t *testing.T) {
	e := newE2E(t, retensim.WithTasks(3))
	sub := e.subscribe()
	a := e.app("", appOptions{})
	cycle(t, a)
	task := e.sim.Tasks()[0]
	for _, status := range []string{"COMPLETED", task.Status, "COMPLETED"} { // A→B→A→B
		e.sim.UpdateTask(task.ID, func(x *retensim.Task) { x.Status = status })
		cycle(t, a)
	}
	// Deleted and re-created with the same content.
	other := e.sim.Tasks()[1]
	e.sim.DeleteTask(other.ID)
	cycle(t, a)
	cycle(t, a)
	e.sim.AddTask(other)
	cycle(t, a)

	js := jetStreamOf(t, e)
	stored := streamEvents(t, js, taskStream)
	var updates, lifecycle []string
	for _, ev := range stored {
		if ev.Subject == task.ID && ev.Data.Op == schema.OpUpdated {
			updates = append(updates, ev.ID)
		}
		if ev.Subject == other.ID {
			lifecycle = append(lifecycle, string(ev.Data.Op))
		}
	}
	if len(updates) != 3 || updates[0] == updates[2] {
		t.Fatalf("the stream holds %d updates (%v), want 3 distinct", len(updates), updates)
	}
	if fmt.Sprint(lifecycle) != "[created deleted created]" {
		t.Fatalf("the re-created task's events = %v", lifecycle)
	}
	sub.checkIDs(t)
}

func TestE2E_Tasks_ChurnDuringTheWalkNeverDeletesALiveTask(t *testing.T) {
	e := newE2E(t, retensim.WithTasks(300), retensim.WithSeed(7))
	sub := e.subscribe()
	a := e.app("", appOptions{})
	cycle(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	gone := map[string]bool{}
	for i := range 50 {
		e.sim.OnPageServed(func(page int) {
			if page == 2 {
				tasks := e.sim.Tasks()
				id := tasks[i%100].ID // on page 1, already fetched
				e.sim.DeleteTask(id)
				gone[id] = true
				e.sim.AddTasks(1) // at the end
			}
		})
		_, _ = a.poller.Cycle(ctx) // most of these listings are inconsistent: fine
		for _, ev := range sub.snapshot() {
			if ev.Data.Op == schema.OpDeleted && !gone[ev.Subject] {
				t.Fatalf("cycle %d: deleted %s, which still exists", i, ev.Subject)
			}
		}
	}
	e.sim.OnPageServed(nil)
	cycle(t, a)
	cycle(t, a)
	relaytest.WaitFor(t, e2eWait, "the subscriber to match the simulator", func() bool {
		return sameTaskSets(t, sub.taskSet(), simSet(t, e.sim))
	})
}

func TestE2E_Tasks_KafkaKeysHeadersAndOrder(t *testing.T) {
	k := relaytest.StartKafka(t)
	e := newE2E(t, retensim.WithTasks(20))
	e.routes = `[{name: kafka, sink: kafka, topic: reten-tasks}]`
	a := e.app(fmt.Sprintf("kafka: {brokers: [%q], create_topics: true, topic_partitions: 4}\n", k.Brokers()[0]), appOptions{})
	cycle(t, a)
	task := e.sim.Tasks()[3]
	e.sim.UpdateTask(task.ID, func(x *retensim.Task) { x.Status = "COMPLETED" })
	cycle(t, a)

	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: k.Brokers(), Topic: "reten-tasks", GroupID: "e2e-reader", StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	var ops []string
	partition := -1
	for n := 0; n < 21; n++ {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("after %d records: %v", n, err)
		}
		var ev schema.Event
		if err := json.Unmarshal(m.Value, &ev); err != nil {
			t.Fatal(err)
		}
		headers := map[string]string{}
		for _, h := range m.Headers {
			headers[h.Key] = string(h.Value)
		}
		if string(m.Key) != ev.Subject || headers["ce_id"] != ev.ID || headers["ce_type"] != ev.Type || headers["ce_subject"] != ev.Subject {
			t.Fatalf("record key %q headers %v do not match event %s of %s", m.Key, headers, ev.ID, ev.Subject)
		}
		if ev.Subject == task.ID {
			ops = append(ops, string(ev.Data.Op))
			if partition >= 0 && m.Partition != partition {
				t.Fatal("one task's events landed in two partitions")
			}
			partition = m.Partition
		}
	}
	if fmt.Sprint(ops) != "[created updated]" {
		t.Fatalf("the task's events arrived as %v", ops)
	}
}

func jetStreamOf(t *testing.T, e *e2e) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(e.nats.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// streamEvents reads every event a stream holds.
func streamEvents(t *testing.T, js jetstream.JetStream, stream string) []schema.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := s.Info(ctx)
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out []schema.Event
	for range info.State.Msgs {
		m, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		var ev schema.Event
		_ = json.Unmarshal(m.Data(), &ev)
		out = append(out, ev)
	}
	return out
}
