package tasks_test

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/reten/reten-relay/relay"
	"github.com/reten/reten-relay/relay/ops"
	"github.com/reten/reten-relay/relay/tasks"
	"github.com/reten/reten-relay/schema"
)

func TestPoller_OutboxIsDrainedBeforeTheNextDiff(t *testing.T) {
	e := newEnv(t)
	e.lister.set(task("a", `"v":1`))
	e.sink.setErr(errSinkDown)
	rep, err := e.p.Cycle(context.Background())
	if !errors.Is(err, errSinkDown) || !rep.Complete || rep.Created != 1 {
		t.Fatalf("cycle with sink down: err %v report %+v; want committed created and a publish error", err, rep)
	}
	// While the outbox cannot be drained, no cycle lists or diffs.
	e.lister.set(task("a", `"v":2`))
	calls := e.lister.calls
	if _, err := e.p.Cycle(context.Background()); !errors.Is(err, errSinkDown) {
		t.Fatalf("second cycle err = %v, want the sink error", err)
	}
	if e.lister.calls != calls {
		t.Fatalf("lister called %d times with events pending, want 0", e.lister.calls-calls)
	}
	e.sink.setErr(nil)
	rep, evs := e.cycle()
	if opsOf(evs) != "created:a updated:a" || rep.Published != 2 {
		t.Fatalf("after recovery events %q published %d, want the pending created, then the update", opsOf(evs), rep.Published)
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
		runtime.Goexit() // the cycle stops dead here, as a killed process would
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

func TestPoller_EventsFanOutToEverySinkInOrder(t *testing.T) {
	kafka := &fakeSink{}
	e := newEnv(t, func(c *tasks.Config) {
		c.Sinks["kafka"] = kafka
		c.PublishBatch = 2
		c.Router = routerFunc(func(ev schema.Event) []relay.Target {
			return []relay.Target{{Sink: "nats", Destination: "n"}, {Sink: "kafka", Destination: "k"}}
		})
	})
	e.lister.set(manyTasks(5)...)
	_, nats := e.cycle()
	k := decodeAll(t, kafka.take())
	if opsOf(nats) != opsOf(k) || len(k) != 5 {
		t.Fatalf("nats got %q, kafka %q; want the same 5 events in the same order", opsOf(nats), opsOf(k))
	}
}
