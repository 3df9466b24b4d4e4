package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/schema/schematest"
	"github.com/reten/reten-relay/sources/reten/retensim"
)

// runApp runs the relay in the background (its own drainers publish) until the test ends.
func runInBackground(t *testing.T, a *app) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("relay run: %v", err)
		}
	})
}

func TestE2E_Tasks_KafkaDownWhileNATSKeepsReceiving(t *testing.T) {
	k := relaytest.StartKafka(t)
	e := newE2E(t, retensim.WithTasks(40))
	e.routes = `[{name: all, sink: nats, subject: "reten.tasks.{op}.{channel}"}, {name: kafka, sink: kafka, topic: reten-tasks}]`
	sub := e.subscribe()
	a := e.app(fmt.Sprintf("kafka: {brokers: [%q], create_topics: true, topic_partitions: 2}\n", k.Brokers()[0]), appOptions{})

	var down atomic.Bool
	down.Store(true)
	k.Cluster.ControlKey(-1, func(kmsg.Request) (kmsg.Response, error, bool) {
		k.Cluster.KeepControl()
		if !down.Load() {
			return nil, nil, false
		}
		return nil, errors.New("broker down"), true // drops the client's connection
	})
	runInBackground(t, a)
	relaytest.WaitFor(t, e2eWait, "NATS to get the first sync with Kafka down", func() bool { return sub.count(schema.OpCreated) == 40 })
	tasks := e.sim.Tasks()
	for _, task := range tasks[:5] {
		e.sim.UpdateTask(task.ID, func(x *retensim.Task) { x.Status = "COMPLETED" })
	}
	relaytest.WaitFor(t, e2eWait, "NATS to get the updates with Kafka still down", func() bool { return sub.count(schema.OpUpdated) == 5 })
	relaytest.WaitFor(t, e2eWait, "/readyz to name Kafka's stuck queue", func() bool {
		return strings.Contains(a.health.Status().Components["tasks.poller"].Reason, "sink kafka: 45 messages waiting")
	})
	if got := gaugeValue(t, a, "reten_relay_outbox_pending"); got != 45 {
		t.Fatalf("outbox gauge %v, want Kafka's 45", got)
	}

	down.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: k.Brokers(), Topic: "reten-tasks", GroupID: "e2e-kafka-down", StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	perTask := map[string][]string{}
	for n := 0; n < 45; n++ {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("kafka after the outage, record %d: %v", n, err)
		}
		var ev schema.Event
		if err := json.Unmarshal(m.Value, &ev); err != nil {
			t.Fatal(err)
		}
		perTask[ev.Subject] = append(perTask[ev.Subject], string(ev.Data.Op))
	}
	for _, task := range tasks[:5] {
		if got := fmt.Sprint(perTask[task.ID]); got != "[created updated]" {
			t.Fatalf("kafka got %s for task %s, want created then updated", got, task.ID)
		}
	}
	if len(perTask) != 40 {
		t.Fatalf("kafka got events of %d tasks, want 40", len(perTask))
	}
	// NATS was never sent anything twice while Kafka failed and recovered.
	if dups := sub.checkIDs(t); dups != 0 || len(sub.snapshot()) != 45 {
		t.Fatalf("NATS got %d events with %d re-publishes, want 45 and none", len(sub.snapshot()), dups)
	}
}

// gaugeValue reads one unlabelled gauge from the relay's registry.
func gaugeValue(t *testing.T, a *app, name string) float64 {
	t.Helper()
	mfs, err := a.metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no gauge %s", name)
	return 0
}

func TestE2E_Tasks_OversizedTaskArrivesTrimmedAndTheRestFlows(t *testing.T) {
	e := newE2E(t, retensim.WithTasks(30))
	sub := e.subscribe()
	a := e.app("", appOptions{})
	cycle(t, a)
	relaytest.WaitFor(t, e2eWait, "the first sync", func() bool { return sub.count(schema.OpCreated) == 30 })
	tasks := e.sim.Tasks()
	big := tasks[0].ID
	e.sim.UpdateTask(big, func(x *retensim.Task) { x.CommerceName = strings.Repeat("x", 1100<<10) }) // 1.1 MB > max_payload
	for _, task := range tasks[1:11] {
		e.sim.UpdateTask(task.ID, func(x *retensim.Task) { x.Status = "COMPLETED" })
	}
	if rep := cycle(t, a); rep.Updated != 11 {
		t.Fatalf("cycle with the huge task = %+v, want 11 updates", rep)
	}
	relaytest.WaitFor(t, e2eWait, "the 11 updates", func() bool { return sub.count(schema.OpUpdated) == 11 })
	v := schematest.New(t, schematest.TaskEvent)
	for _, ev := range sub.snapshot()[30:] {
		b, _ := json.Marshal(ev)
		if err := v.Validate(b); err != nil {
			t.Fatalf("event %s does not match the schema: %v", ev.ID, err)
		}
		if (ev.Subject == big) != ev.Data.Truncated {
			t.Fatalf("event of %s truncated=%v", ev.Subject, ev.Data.Truncated)
		}
		if ev.Subject == big {
			var task struct{ ID, Status, CommerceName string }
			_ = json.Unmarshal(ev.Data.Task, &task)
			if task.ID != big || task.CommerceName != "" || ev.Data.OriginalSize < 1100<<10 {
				t.Fatalf("trimmed event: task %s original_size %d", ev.Data.Task[:min(200, len(ev.Data.Task))], ev.Data.OriginalSize)
			}
		}
	}
	// Later cycles flow, the task shrunk back included.
	e.sim.UpdateTask(big, func(x *retensim.Task) { x.CommerceName = "small again" })
	e.sim.UpdateTask(tasks[20].ID, func(x *retensim.Task) { x.Status = "CANCELLED" })
	if rep := cycle(t, a); rep.Updated != 2 {
		t.Fatalf("next cycle = %+v, want 2 updates", rep)
	}
	relaytest.WaitFor(t, e2eWait, "the next updates", func() bool { return sub.count(schema.OpUpdated) == 13 })
	if !sameTaskSets(t, sub.taskSet(), simSet(t, e.sim)) {
		t.Fatal("the subscriber's task set differs from the simulator's")
	}
}
