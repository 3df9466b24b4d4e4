package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/reten/reten-relay/relay/config"
	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/sources/reten/retensim"
)

// env of an end-to-end test: a real simulator, a real NATS server, a state dir.
type e2e struct {
	t    *testing.T
	sim  *retensim.Sim
	nats *relaytest.NATS
	dir  string
	// routes is the tasks.routes YAML; by default every event to reten.tasks.{op}.{channel}.
	routes string
	// concurrency is tasks.concurrency, the pages fetched at once.
	concurrency int
}

func newE2E(t *testing.T, opts ...retensim.Option) *e2e {
	t.Helper()
	return &e2e{t: t, sim: retensim.New(t, opts...), nats: relaytest.StartNATS(t), dir: t.TempDir(),
		routes: `[{name: all, sink: nats, subject: "reten.tasks.{op}.{channel}"}]`, concurrency: 4}
}

// configYAML is a relay config against this env's simulator and NATS; extra is appended.
func (e *e2e) configYAML(extra string) string {
	return fmt.Sprintf(`
reten: {url: %q, api_key: %q, timeout: 2s}
nats: {url: %q}
tasks:
  interval: 100ms
  page_size: 100
  concurrency: %d
  state: %q
  routes: %s
http: {listen: "127.0.0.1:0"}
log: {level: error}
`, e.sim.URL(), e.sim.APIKey(), e.nats.URL(), e.concurrency, filepath.Join(e.dir, "tasks.db"), e.routes) + extra
}

func (e *e2e) configFile(extra string) string {
	p := filepath.Join(e.dir, "config.yaml")
	if err := os.WriteFile(p, []byte(e.configYAML(extra)), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// app builds an in-process relay (not running: tests drive the poller's cycles).
func (e *e2e) app(extra string, opts appOptions) *app {
	e.t.Helper()
	cfg, err := config.Load("test.yaml", []byte(e.configYAML(extra)), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := build(ctx, cfg, zerolog.Nop(), opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = a.close(context.Background()) })
	return a
}

func cycle(t *testing.T, a *app) (rep struct{ Created, Updated, Deleted, Held int }) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := a.poller.Cycle(ctx)
	if err != nil {
		t.Fatalf("cycle: %v", err)
	}
	rep.Created, rep.Updated, rep.Deleted, rep.Held = r.Created, r.Updated, r.Deleted, r.HeldDeletes
	return rep
}

// subscriber records every task event published on reten.tasks.> (core NATS sees every
// publish, re-publishes that JetStream dedupes included).
type subscriber struct {
	mu     sync.Mutex
	events []schema.Event
	raw    map[string][]string // event id → bodies seen
}

func (e *e2e) subscribe() *subscriber {
	e.t.Helper()
	nc, err := nats.Connect(e.nats.URL(), nats.MaxReconnects(-1))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(nc.Close)
	s := &subscriber{raw: map[string][]string{}}
	if _, err := nc.Subscribe("reten.tasks.>", func(m *nats.Msg) {
		var ev schema.Event
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			e.t.Errorf("undecodable event on %s: %v", m.Subject, err)
			return
		}
		if id := m.Header.Get("Nats-Msg-Id"); !strings.HasPrefix(id, ev.ID+"/") {
			e.t.Errorf("Nats-Msg-Id %q is not the event id %q and a route", id, ev.ID)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.events = append(s.events, ev)
		s.raw[ev.ID] = append(s.raw[ev.ID], string(m.Data))
	}); err != nil {
		e.t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (s *subscriber) snapshot() []schema.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]schema.Event(nil), s.events...)
}

func (s *subscriber) count(op schema.Op) int {
	n := 0
	for _, ev := range s.snapshot() {
		if ev.Data.Op == op {
			n++
		}
	}
	return n
}

// taskSet rebuilds the task set from the events, in arrival order.
func (s *subscriber) taskSet() map[string]string {
	set := map[string]string{}
	for _, ev := range s.snapshot() {
		if ev.Data.Op == schema.OpDeleted {
			delete(set, ev.Subject)
		} else {
			set[ev.Subject] = string(ev.Data.Task)
		}
	}
	return set
}

// checkIDs fails when one event id was published with two different bodies: a
// re-publish must be byte-identical. It returns how many re-publishes it saw.
func (s *subscriber) checkIDs(t *testing.T) (duplicates int) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, bodies := range s.raw {
		duplicates += len(bodies) - 1
		for _, b := range bodies[1:] {
			if b != bodies[0] {
				t.Errorf("event %s was re-published with another body", id)
			}
		}
	}
	return duplicates
}

// simSet is the simulator's task set as the relay lists it (raw JSON by id).
func simSet(t *testing.T, sim *retensim.Sim) map[string]string {
	t.Helper()
	set := map[string]string{}
	for _, task := range sim.Tasks() {
		b, _ := json.Marshal(task)
		set[task.ID] = string(b)
	}
	return set
}

func sameTaskSets(t *testing.T, got, want map[string]string) bool {
	t.Helper()
	if len(got) != len(want) {
		return false
	}
	for id, w := range want {
		g, ok := got[id]
		if !ok || !jsonEqual(g, w) {
			return false
		}
	}
	return true
}

func jsonEqual(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return string(xb) == string(yb)
}

func writeBytes(path string, b []byte) error { return os.WriteFile(path, b, 0o600) }

// testLogger writes the relay's logs into the test log (shown on failure).
func testLogger(t *testing.T) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
}
