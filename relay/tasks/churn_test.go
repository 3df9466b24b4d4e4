package tasks_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/reten/reten-relay/relay"
	"github.com/reten/reten-relay/relay/ops"
	"github.com/reten/reten-relay/relay/tasks"
	"github.com/reten/reten-relay/schema"
)

func TestPoller_IncompleteListingsStillPublishWhatTheySaw(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(*fakeLister)
	}{
		{"a listing that did not cover every page", func(l *fakeLister) { l.setInconsistent("page 3 never came back") }},
		{"a listing that failed after its first page", func(l *fakeLister) {
			l.pageSize, l.failAfter = 2, 1
			l.fail(fmt.Errorf("get page 2: %w", schema.ErrTransient))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.lister.set(task("a", `"v":1`), task("b", `"v":1`), task("c"))
			e.cycle()
			// a changed, b is gone (or on a lost page), d is new: every cycle is broken.
			for i := range 3 {
				e.lister.set(task("a", fmt.Sprintf(`"v":%d`, i+2)), task("d", fmt.Sprintf(`"v":%d`, i)), task("c"))
				tc.break_(e.lister)
				rep, err := e.p.Cycle(context.Background())
				if err == nil || rep.Complete {
					t.Fatalf("broken cycle %d: err %v complete %v, want an error", i, err, rep.Complete)
				}
				want := "updated:a updated:d"
				if i == 0 {
					want = "updated:a created:d"
				}
				if got := opsOf(decodeAll(t, e.sink.take())); got != want {
					t.Fatalf("broken cycle %d published %q, want %q (no delete without a covered listing)", i, got, want)
				}
			}
		})
	}
}

func TestPoller_DeleteNeedsTheFilteredQueryToAgree(t *testing.T) {
	e := newEnv(t)
	e.lister.set(task("a"), task("b"), task("c"))
	e.cycle()
	// b and c vanish from two covered listings, as a shifting page can make them; Reten's
	// filtered query still finds b, says c is gone.
	e.lister.set(task("a"))
	e.lister.exists = map[string]bool{"b": true, "c": false}
	e.cycle()
	rep, evs := e.cycle()
	if opsOf(evs) != "deleted:c" || rep.Cleared != 1 {
		t.Fatalf("events %q cleared %d, want deleted:c and b cleared", opsOf(evs), rep.Cleared)
	}
	// b is not suspected any more: missing again it starts over.
	if rep, evs = e.cycle(); len(evs) != 0 || rep.Suspected != 1 {
		t.Fatalf("b missing after being cleared: events %q suspected %d, want none and 1", opsOf(evs), rep.Suspected)
	}
	// A check that fails proves nothing: b stays suspected.
	e.lister.existsErr = fmt.Errorf("filtered query: %w", schema.ErrTransient)
	if rep, evs = e.cycle(); len(evs) != 0 || rep.Suspected != 1 {
		t.Fatalf("with failing checks: events %q suspected %d, want none and b still suspected", opsOf(evs), rep.Suspected)
	}
	e.lister.existsErr = nil
	e.lister.exists["b"] = false
	if _, evs = e.cycle(); opsOf(evs) != "deleted:b" {
		t.Fatalf("events %q, want deleted:b once the query agrees", opsOf(evs))
	}
}

func TestPoller_TombstonesExpire(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	e := newEnv(t, func(c *tasks.Config) { c.Now, c.TombstoneTTL = clk.now, time.Hour })
	keep := task("keep")
	e.lister.set(keep, task("a"))
	e.cycle()
	e.lister.set(keep)
	e.cycle()
	e.cycle() // a deleted: its tombstone keeps the change number
	tombstone := func() bool {
		found := false
		_ = e.store.LoadIndex(context.Background(), func(id string, en tasks.Entry) { found = found || id == "a" })
		return found
	}
	if !tombstone() {
		t.Fatal("no tombstone right after the delete")
	}
	clk.add(30 * time.Minute)
	e.cycle()
	if !tombstone() {
		t.Fatal("tombstone dropped before its TTL")
	}
	clk.add(31 * time.Minute)
	e.cycle()
	if tombstone() {
		t.Fatal("tombstone kept after its TTL")
	}
	e.restart()
	e.lister.set(keep, task("a"))
	if _, evs := e.cycle(); opsOf(evs) != "created:a" {
		t.Fatalf("re-created after expiry: %q, want created:a", opsOf(evs))
	}
}

// smallSink accepts messages up to limit bytes, as NATS's max_payload does.
type smallSink struct {
	*fakeSink
	limit int
}

func (s smallSink) MaxMessageBytes() int { return s.limit }

func (s smallSink) Publish(ctx context.Context, msgs []schema.Message) error {
	for _, m := range msgs {
		if len(m.Body) > s.limit {
			return fmt.Errorf("message %s: %d bytes: maximum payload exceeded", m.ID, len(m.Body))
		}
	}
	return s.fakeSink.Publish(ctx, msgs)
}

func TestPoller_OversizedEventGoesOutTrimmed(t *testing.T) {
	e := newEnv(t, func(c *tasks.Config) {
		c.Sinks = map[string]relay.Sink{"nats": smallSink{fakeSink: &fakeSink{}, limit: 64 << 10}}
	})
	sink := e.cfg.Sinks["nats"].(smallSink).fakeSink
	e.lister.set(task("a", `"v":1`), task("big", `"status":"PENDING"`))
	e.cycle()
	sink.take()
	huge := `"notes":"` + strings.Repeat("x", 200<<10) + `"`
	e.lister.set(task("a", `"v":2`), task("big", `"status":"DONE"`, huge))
	_, err := e.p.Cycle(context.Background())
	if err != nil {
		t.Fatalf("cycle with a huge task: %v", err)
	}
	evs := decodeAll(t, sink.take())
	if opsOf(evs) != "updated:a updated:big" {
		t.Fatalf("events %q, want both updates", opsOf(evs))
	}
	big := evs[1].Data
	if !big.Truncated || big.OriginalSize < 200<<10 || string(big.Task) != `{"id":"big","status":"DONE"}` {
		t.Fatalf("big event data truncated=%v size=%d task=%s; want trimmed to its small fields", big.Truncated, big.OriginalSize, big.Task)
	}
	if evs[0].Data.Truncated {
		t.Fatal("the small event is marked truncated")
	}
	// Later cycles flow, also when the task shrinks back.
	e.lister.set(task("a", `"v":3`), task("big", `"status":"DONE"`))
	if _, err := e.p.Cycle(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := opsOf(decodeAll(t, sink.take())); got != "updated:a updated:big" {
		t.Fatalf("next cycle %q", got)
	}
}

func TestPoller_ReadinessRedWhenASinkStopsDraining(t *testing.T) {
	h := ops.NewHealth()
	m := ops.NewMetrics()
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	e := newEnv(t, func(c *tasks.Config) { c.Health, c.Metrics, c.Now, c.Interval = h, m, clk.now, time.Minute })
	e.lister.set(task("a"))
	e.cycle()
	e.sink.setErr(errSinkDown)
	e.lister.set(task("a", `"v":2`), task("b"))
	for range 3 {
		_, _ = e.p.Cycle(context.Background())
		clk.add(time.Minute)
	}
	e.lister.set(task("a", `"v":2`), task("b"))
	clk.add(time.Second)
	_, _ = e.p.Cycle(context.Background())
	reason := h.Status().Components[tasks.HealthComponent].Reason
	if h.Ready() || !strings.Contains(reason, "sink nats: 2 messages waiting") || !strings.Contains(reason, errSinkDown.Error()) {
		t.Fatalf("ready %v reason %q; want red naming the stuck sink", h.Ready(), reason)
	}
	if got := gauge(m); got != 2 {
		t.Fatalf("outbox gauge %v, want 2", got)
	}
	e.sink.setErr(nil)
	e.cycle()
	if !h.Ready() || gauge(m) != 0 {
		t.Fatalf("after the sink recovered: ready %v gauge %v", h.Ready(), gauge(m))
	}
}

func gauge(m *ops.Metrics) float64 { return testutil.ToFloat64(m.OutboxPending) }
