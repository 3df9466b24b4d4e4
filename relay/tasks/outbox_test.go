package tasks_test

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/reten/reten-relay/relay"
	"github.com/reten/reten-relay/relay/ops"
	"github.com/reten/reten-relay/relay/tasks"
	"github.com/reten/reten-relay/schema"
)

func TestPoller_SinkDownKeepsListingAndOrder(t *testing.T) {
	e := newEnv(t)
	e.lister.set(task("a", `"v":1`))
	e.sink.setErr(errSinkDown)
	rep, err := e.p.Cycle(context.Background())
	if !errors.Is(err, errSinkDown) || !rep.Complete || rep.Created != 1 {
		t.Fatalf("cycle with sink down: err %v report %+v; want committed created and a publish error", err, rep)
	}
	// The sink being down does not stop the listing: the update is committed behind the
	// create, and both leave in that order once the sink is back.
	e.lister.set(task("a", `"v":2`))
	rep, err = e.p.Cycle(context.Background())
	if !errors.Is(err, errSinkDown) || rep.Updated != 1 {
		t.Fatalf("second cycle err = %v report %+v, want the update committed and the sink error", err, rep)
	}
	e.sink.setErr(nil)
	rep, evs := e.cycle()
	if opsOf(evs) != "created:a updated:a" || rep.Published != 2 {
		t.Fatalf("after recovery events %q published %d, want the pending created, then the update", opsOf(evs), rep.Published)
	}
}

func TestPoller_OneSinkDownNeitherDelaysNorDuplicatesTheOther(t *testing.T) {
	kafka := &fakeSink{}
	e := newEnv(t, func(c *tasks.Config) {
		c.Sinks["kafka"] = kafka
		c.Router = routerFunc(func(ev schema.Event) []relay.Target {
			return []relay.Target{{Route: "n", Sink: "nats", Destination: "n"}, {Route: "k", Sink: "kafka", Destination: "k"}}
		})
	})
	kafka.setErr(errSinkDown)
	e.lister.set(task("a", `"v":1`), task("b"))
	if _, err := e.p.Cycle(context.Background()); !errors.Is(err, errSinkDown) {
		t.Fatalf("cycle err = %v, want kafka's error", err)
	}
	if got := opsOf(decodeAll(t, e.sink.take())); got != "created:a created:b" {
		t.Fatalf("nats got %q while kafka was down, want both creates", got)
	}
	e.lister.set(task("a", `"v":2`), task("b"))
	_, _ = e.p.Cycle(context.Background())
	if got := opsOf(decodeAll(t, e.sink.take())); got != "updated:a" {
		t.Fatalf("nats got %q on the second cycle, want only the new update (nothing re-sent)", got)
	}
	kafka.setErr(nil)
	e.cycle()
	if got := opsOf(decodeAll(t, kafka.take())); got != "created:a created:b updated:a" {
		t.Fatalf("kafka got %q after recovery, want everything in order", got)
	}
	if got := e.sink.take(); len(got) != 0 {
		t.Fatalf("nats got %d more messages when kafka recovered, want none", len(got))
	}
}

func TestPoller_RepublishKeepsIDsAndBytes(t *testing.T) {
	e := newEnv(t)
	e.lister.set(task("a"), task("b"))
	failing := &failAfterSink{fakeSink: e.sink, okCalls: 0}
	e.cfg.Sinks = map[string]relay.Sink{"nats": failing}
	e.restart()
	_, err := e.p.Cycle(context.Background())
	if !errors.Is(err, errSinkDown) {
		t.Fatalf("cycle err = %v, want sink failure", err)
	}
	first := failing.tried
	failing.okCalls = 1 << 30
	if _, err := e.p.Cycle(context.Background()); err != nil {
		t.Fatalf("cycle after recovery: %v", err)
	}
	again := e.sink.take()
	if len(first) != 2 || len(again) != 2 {
		t.Fatalf("tried %d then published %d messages, want 2 and 2", len(first), len(again))
	}
	for i := range first {
		if first[i].ID != again[i].ID || !bytes.Equal(first[i].Body, again[i].Body) {
			t.Fatalf("message %d changed between attempts:\n%s\n%s", i, first[i].Body, again[i].Body)
		}
	}
}

// failAfterSink remembers what it was asked to publish and fails after okCalls calls.
type failAfterSink struct {
	*fakeSink
	okCalls int
	tried   []schema.Message
}

func (s *failAfterSink) Publish(ctx context.Context, msgs []schema.Message) error {
	if s.okCalls <= 0 {
		s.tried = append(s.tried, msgs...)
		return errSinkDown
	}
	s.okCalls--
	return s.fakeSink.Publish(ctx, msgs)
}

func TestPoller_RestartPublishesNothingNew(t *testing.T) {
	e := newEnv(t)
	e.lister.set(task("a"), task("b", `"v":1`))
	e.cycle()
	e.lister.set(task("a"))
	e.cycle() // b suspected: must survive the restart
	e.restart()
	e.lister.set(task("a"))
	rep, evs := e.cycle()
	if opsOf(evs) != "deleted:b" {
		t.Fatalf("after restart events %q, want only deleted:b (suspicion persisted)", opsOf(evs))
	}
	e.restart()
	if rep, evs = e.cycle(); len(evs) != 0 || rep.Published != 0 {
		t.Fatalf("second restart published %q", opsOf(evs))
	}
}

func TestPoller_CrashAfterPublishBeforeAckRepublishesSameIDs(t *testing.T) {
	e := newEnv(t)
	e.lister.set(task("a"), task("b"))
	crashed := make(chan struct{})
	e.cfg.Hooks.AfterPublish = func() {
		close(crashed)
		select {} // the drain freezes here, as a killed process would (it runs on a goroutine of its own)
	}
	e.restart()
	go func() { _, _ = e.p.Cycle(context.Background()) }()
	select {
	case <-crashed:
	case <-time.After(10 * time.Second):
		t.Fatal("cycle never reached AfterPublish")
	}
	before := e.sink.take()
	e.cfg.Hooks.AfterPublish = nil
	e.restart()
	_, err := e.p.Cycle(context.Background())
	if err != nil {
		t.Fatalf("cycle after crash: %v", err)
	}
	after := e.sink.take()
	if len(before) != 2 || len(after) != 2 || before[0].ID != after[0].ID || before[1].ID != after[1].ID {
		t.Fatalf("before crash %d messages, after %d; ids must repeat exactly", len(before), len(after))
	}
}

func TestPoller_CrashAfterCommitPublishesOnRestart(t *testing.T) {
	e := newEnv(t)
	e.lister.set(task("a"))
	e.cycle()
	e.lister.set(task("a", `"v":2`))
	crashed := make(chan struct{})
	e.cfg.Hooks.AfterOutboxCommit = func() { close(crashed); runtime.Goexit() }
	e.restart()
	go func() { _, _ = e.p.Cycle(context.Background()) }()
	<-crashed
	if got := e.sink.take(); len(got) != 0 {
		t.Fatalf("published %d before the crash point", len(got))
	}
	e.cfg.Hooks.AfterOutboxCommit = nil
	e.restart()
	e.lister.set() // the task is gone by the time we restart: the update still goes out first
	_, evs := e.cycle()
	if opsOf(evs) != "updated:a" {
		t.Fatalf("after restart events %q, want the committed updated:a", opsOf(evs))
	}
}

func TestPoller_SetRouterTakesEffectNextCycle(t *testing.T) {
	e := newEnv(t)
	e.lister.set(task("a", `"v":1`))
	e.cycle()
	e.p.SetRouter(routerFunc(func(ev schema.Event) []relay.Target {
		return []relay.Target{{Route: "new", Sink: "nats", Destination: "v2." + ev.Subject}}
	}))
	e.lister.set(task("a", `"v":2`))
	e.cycle()
	_, _ = e.p.Cycle(context.Background())
	e.lister.set(task("a", `"v":3`))
	_, _ = e.p.Cycle(context.Background())
	msgs := e.sink.take()
	if len(msgs) != 1 || msgs[0].Destination != "v2.a" {
		t.Fatalf("messages %+v, want one to v2.a", msgs)
	}
}

func TestPoller_UnroutedEventsAreCountedAndRemoved(t *testing.T) {
	m := ops.NewMetrics()
	e := newEnv(t, func(c *tasks.Config) {
		c.Metrics = m
		c.Router = routerFunc(func(ev schema.Event) []relay.Target {
			if ev.Subject == "a" {
				return []relay.Target{{Route: "a-only", Sink: "nats", Destination: "a"}}
			}
			return nil
		})
	})
	e.lister.set(task("a"), task("b"), task("c"))
	rep, evs := e.cycle()
	if opsOf(evs) != "created:a" || rep.Unrouted != 2 || rep.Published != 1 {
		t.Fatalf("events %q report %+v, want created:a with 2 unrouted", opsOf(evs), rep)
	}
	if got := testutil.ToFloat64(m.Unrouted); got != 2 {
		t.Errorf("unrouted metric = %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.OutboxPending); got != 0 {
		t.Errorf("outbox pending = %v, want 0", got)
	}
	if got := testutil.ToFloat64(m.Events.WithLabelValues("created", "nats")); got != 1 {
		t.Errorf("events{created,nats} = %v, want 1", got)
	}
	if rep, _ := e.cycle(); rep.Published+rep.Unrouted != 0 {
		t.Fatalf("unrouted events were left in the outbox: %+v", rep)
	}
}

func TestPoller_RouteToUnknownSinkFailsTheCycle(t *testing.T) {
	e := newEnv(t, func(c *tasks.Config) {
		c.Router = routerFunc(func(schema.Event) []relay.Target {
			return []relay.Target{{Route: "r", Sink: "kafka", Destination: "x"}}
		})
	})
	e.lister.set(task("a"))
	if _, err := e.p.Cycle(context.Background()); !errors.Is(err, tasks.ErrUnknownSink) {
		t.Fatalf("err = %v, want ErrUnknownSink", err)
	}
}

func TestPoller_EventsFanOutToEverySinkInTaskOrder(t *testing.T) {
	kafka := &fakeSink{}
	e := newEnv(t, func(c *tasks.Config) {
		c.Sinks["kafka"] = kafka
		c.PublishBatch = 2 // several batches in flight at once
		c.Router = routerFunc(func(ev schema.Event) []relay.Target {
			return []relay.Target{{Sink: "nats", Destination: "n"}, {Sink: "kafka", Destination: "k"}}
		})
	})
	// Two cycles' events wait together: each task's update must follow its create on
	// both sinks, whatever the order between tasks.
	kafka.setErr(errSinkDown)
	e.sink.setErr(errSinkDown)
	e.lister.set(manyTasks(5)...)
	_, _ = e.p.Cycle(context.Background())
	next := manyTasks(5)
	for i := range next {
		next[i] = task(next[i].ID, `"status":"DONE"`)
	}
	e.lister.set(next...)
	_, _ = e.p.Cycle(context.Background())
	kafka.setErr(nil)
	e.sink.setErr(nil)
	_, nats := e.cycle()
	k := decodeAll(t, kafka.take())
	for name, evs := range map[string][]schema.Event{"nats": nats, "kafka": k} {
		if len(evs) != 10 {
			t.Fatalf("%s got %d events, want 10: %q", name, len(evs), opsOf(evs))
		}
		last := map[string]schema.Op{}
		for _, ev := range evs {
			if ev.Data.Op == schema.OpCreated && last[ev.Subject] != "" || ev.Data.Op == schema.OpUpdated && last[ev.Subject] != schema.OpCreated {
				t.Fatalf("%s: task %s got %s after %q: %q", name, ev.Subject, ev.Data.Op, last[ev.Subject], opsOf(evs))
			}
			last[ev.Subject] = ev.Data.Op
		}
	}
}

// ackFailingStore is the real state file whose outbox removals fail while fail is set.
type ackFailingStore struct {
	tasks.StateStore
	fail atomic.Bool
}

func (s *ackFailingStore) Ack(ctx context.Context, sink string, pos []tasks.QueuePos) error {
	if s.fail.Load() {
		return errors.New("disk full")
	}
	return s.StateStore.Ack(ctx, sink, pos)
}

func TestPoller_AFailedOutboxRemovalSendsTheMessagesAgainWithTheSameIDs(t *testing.T) {
	e := newEnv(t)
	e.lister.set(task("a"), task("b"))
	st := &ackFailingStore{StateStore: e.store}
	st.fail.Store(true)
	cfg := e.cfg
	cfg.Store = st
	p, err := tasks.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Cycle(context.Background())
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("cycle whose confirmed messages cannot be removed: err %v, want it to say why", err)
	}
	first := e.sink.take()
	if len(first) != 2 {
		t.Fatalf("first cycle published %d messages, want 2", len(first))
	}

	st.fail.Store(false)
	if _, err := p.Cycle(context.Background()); err != nil {
		t.Fatalf("cycle once removals work: %v", err)
	}
	again := e.sink.take()
	if len(again) != 2 || again[0].ID != first[0].ID || again[1].ID != first[1].ID {
		t.Fatalf("after the failed removal %d messages were sent again, want the same 2 ids", len(again))
	}
	if _, err := p.Cycle(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rest := e.sink.take(); len(rest) != 0 {
		t.Fatalf("once removed, %d messages were sent a third time", len(rest))
	}
}
