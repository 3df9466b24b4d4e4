package tasks_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reten/reten-relay/relay"
	"github.com/reten/reten-relay/relay/ops"
	"github.com/reten/reten-relay/relay/tasks"
	"github.com/reten/reten-relay/schema"
)

func TestNew_RejectsInvalidConfig(t *testing.T) {
	valid := func() tasks.Config {
		return tasks.Config{Source: testSource, Lister: &fakeLister{}, Router: toNATS,
			Sinks: map[string]relay.Sink{"nats": &fakeSink{}}, Store: nopStore{}}
	}
	if _, err := tasks.New(valid()); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	for _, tc := range []struct {
		name   string
		break_ func(*tasks.Config)
	}{
		{"no source", func(c *tasks.Config) { c.Source = "" }},
		{"negative interval", func(c *tasks.Config) { c.Interval = -time.Second }},
		{"share above one", func(c *tasks.Config) { c.DeleteGuard.MaxShare = 1.5 }},
		{"no lister", func(c *tasks.Config) { c.Lister = nil }},
		{"no router", func(c *tasks.Config) { c.Router = nil }},
		{"no sinks", func(c *tasks.Config) { c.Sinks = nil }},
		{"nil sink", func(c *tasks.Config) { c.Sinks = map[string]relay.Sink{"nats": nil} }},
		{"no store", func(c *tasks.Config) { c.Store = nil }},
		{"backoff max below initial", func(c *tasks.Config) { c.Backoff = tasks.Backoff{Initial: time.Minute, Max: time.Second} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.break_(&c)
			if _, err := tasks.New(c); !errors.Is(err, tasks.ErrInvalidConfig) {
				t.Fatalf("err = %v, want ErrInvalidConfig", err)
			}
		})
	}
}

// nopStore satisfies StateStore for tests that never run a cycle.
type nopStore struct{ tasks.StateStore }

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

func TestPoller_Readiness(t *testing.T) {
	h := ops.NewHealth()
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	e := newEnv(t, func(c *tasks.Config) { c.Health, c.Now, c.Interval = h, clk.now, time.Minute })
	reason := func() string { return h.Status().Components[tasks.HealthComponent].Reason }
	if h.Ready() || reason() != "no complete poll yet" {
		t.Fatalf("before any cycle: ready %v reason %q", h.Ready(), reason())
	}
	e.lister.set(task("a"))
	e.cycle()
	if !h.Ready() {
		t.Fatalf("after a complete cycle not ready: %q", reason())
	}

	e.lister.fail(fmt.Errorf("list page 1: status 401: %w", schema.ErrAuth))
	_, _ = e.p.Cycle(context.Background())
	if h.Ready() || !strings.Contains(reason(), "reten key rejected") || !strings.Contains(reason(), "VIEW_ACTIVITIES") {
		t.Fatalf("after auth failure: ready %v reason %q", h.Ready(), reason())
	}

	e.lister.set(task("a"))
	e.cycle()
	e.lister.fail(fmt.Errorf("list page 1: %w", schema.ErrTransient))
	for range 2 {
		_, _ = e.p.Cycle(context.Background())
	}
	if !h.Ready() {
		t.Fatalf("two transient failures made it unready: %q", reason())
	}
	_, _ = e.p.Cycle(context.Background())
	if h.Ready() || !strings.Contains(reason(), "3 poll cycles failed in a row") {
		t.Fatalf("after 3 failures: ready %v reason %q", h.Ready(), reason())
	}

	e.lister.set(task("a"))
	e.cycle()
	clk.add(4 * time.Minute)
	e.lister.fail(fmt.Errorf("list page 1: %w", schema.ErrTransient))
	_, _ = e.p.Cycle(context.Background())
	if h.Ready() || !strings.Contains(reason(), "last complete poll") {
		t.Fatalf("stale poll: ready %v reason %q", h.Ready(), reason())
	}
}

func TestPoller_RunPollsUntilCancelled(t *testing.T) {
	e := newEnv(t, func(c *tasks.Config) {
		c.Interval = 5 * time.Millisecond
		c.Backoff = tasks.Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond}
	})
	e.lister.listed = make(chan struct{}, 1)
	e.lister.set(task("a"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.p.Run(ctx) }()
	for i := range 3 { // a few cycles, including a failed one that is retried
		if i == 1 {
			e.lister.fail(fmt.Errorf("list: %w", schema.ErrTransient))
		}
		if i == 2 {
			e.lister.set(task("a"), task("b"))
		}
		select {
		case <-e.lister.listed:
		case <-time.After(10 * time.Second):
			t.Fatalf("cycle %d never listed", i)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v on shutdown, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
