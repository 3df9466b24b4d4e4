package tasks_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reten/reten-relay/relay"
	"github.com/reten/reten-relay/relay/state"
	"github.com/reten/reten-relay/relay/tasks"
	"github.com/reten/reten-relay/schema"
)

const testSource = "https://api.reten.test"

// fakeLister returns whatever listing the test scripted last, in pages of pageSize (one
// page when zero).
type fakeLister struct {
	mu           sync.Mutex
	tasks        []schema.Task
	err          error
	inconsistent string
	pageSize     int
	failAfter    int             // pages handed over before err is returned; with err set
	exists       map[string]bool // TaskExists answers; ids not in it are not checkable
	existsErr    error
	checks       int
	calls        int
	listed       chan struct{} // optional: gets a value per call
}

func (l *fakeLister) set(ts ...schema.Task) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tasks, l.err, l.inconsistent, l.failAfter = ts, nil, "", 0
}

func (l *fakeLister) fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.err = err
}

func (l *fakeLister) setInconsistent(why string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inconsistent = why
}

func (l *fakeLister) StreamTasks(ctx context.Context, opts schema.ListOptions, fn schema.PageFunc) (schema.ListSummary, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	if l.listed != nil {
		select {
		case l.listed <- struct{}{}:
		default:
		}
	}
	if err := ctx.Err(); err != nil {
		return schema.ListSummary{}, err
	}
	if l.err != nil && l.failAfter == 0 {
		return schema.ListSummary{}, l.err
	}
	size := l.pageSize
	if size == 0 {
		size = max(len(l.tasks), 1)
	}
	pages := (len(l.tasks) + size - 1) / size
	sum := schema.ListSummary{Total: len(l.tasks), Covered: l.inconsistent == "", Inconsistency: l.inconsistent}
	for pg := 0; pg < max(pages, 1); pg++ {
		if l.err != nil && pg == l.failAfter {
			return sum, l.err
		}
		lo, hi := pg*size, min((pg+1)*size, len(l.tasks))
		// Copies, so the poller cannot keep the fake's bytes past the page.
		ts := make([]schema.Task, 0, hi-lo)
		for _, t := range l.tasks[lo:hi] {
			ts = append(ts, schema.Task{ID: t.ID, Raw: append(json.RawMessage(nil), t.Raw...)})
		}
		if err := fn(pg+1, ts); err != nil {
			return sum, err
		}
		for i := range ts {
			for j := range ts[i].Raw {
				ts[i].Raw[j] = 'X' // the page's bytes are gone
			}
		}
		sum.Pages++
		sum.Tasks += len(ts)
		if opts.Progress != nil {
			opts.Progress(pg+1, max(pages, 1))
		}
	}
	return sum, nil
}

func (l *fakeLister) TaskExists(ctx context.Context, t schema.Task) (bool, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.checks++
	if l.existsErr != nil {
		return false, false, l.existsErr
	}
	ex, ok := l.exists[t.ID]
	return ex, ok, nil
}

// fakeSink records every message it confirmed, and fails while err is set.
type fakeSink struct {
	mu   sync.Mutex
	msgs []schema.Message
	err  error
	// attempts counts Publish calls, failed ones included.
	attempts int
}

func (s *fakeSink) Publish(ctx context.Context, msgs []schema.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts++
	if s.err != nil {
		return s.err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.msgs = append(s.msgs, msgs...)
	return nil
}

func (s *fakeSink) Close(context.Context) error { return nil }

func (s *fakeSink) setErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

// take returns the messages recorded since the last take.
func (s *fakeSink) take() []schema.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.msgs
	s.msgs = nil
	return m
}

// routerFunc adapts a function to relay.Router.
type routerFunc func(schema.Event) []relay.Target

func (f routerFunc) Route(ev schema.Event) []relay.Target { return f(ev) }

// toNATS routes every event to the "nats" sink on subject tasks.<op>.
var toNATS = routerFunc(func(ev schema.Event) []relay.Target {
	return []relay.Target{{Route: "all", Sink: "nats", Destination: "tasks." + string(ev.Data.Op)}}
})

var errSinkDown = errors.New("sink down")

// env is one poller on a real state file with a fake lister and sink.
type env struct {
	t      *testing.T
	cfg    tasks.Config
	p      *tasks.Poller
	lister *fakeLister
	sink   *fakeSink
	store  *state.Store
	path   string
}

func newEnv(t *testing.T, tweak ...func(*tasks.Config)) *env {
	t.Helper()
	e := &env{t: t, lister: &fakeLister{}, sink: &fakeSink{}, path: filepath.Join(t.TempDir(), "tasks.db")}
	e.cfg = tasks.Config{
		Source:      testSource,
		Interval:    time.Minute,
		EmitInitial: true,
		DeleteGuard: tasks.DeleteGuard{MaxShare: 0.5, MinSnapshot: 10, ConfirmCycles: 3},
		Lister:      e.lister,
		Router:      toNATS,
		Sinks:       map[string]relay.Sink{"nats": e.sink},
	}
	for _, f := range tweak {
		f(&e.cfg)
	}
	e.open()
	return e
}

// open (re)opens the state file and builds a fresh Poller on it, as a restart does.
func (e *env) open() {
	e.t.Helper()
	st, err := state.Open(e.path)
	if err != nil {
		e.t.Fatalf("open state: %v", err)
	}
	e.t.Cleanup(func() { _ = st.Close() })
	e.store = st
	cfg := e.cfg
	cfg.Store = st
	p, err := tasks.New(cfg)
	if err != nil {
		e.t.Fatalf("new poller: %v", err)
	}
	e.p = p
}

// restart closes the store and opens a new Poller on the same file.
func (e *env) restart() {
	e.t.Helper()
	if err := e.store.Close(); err != nil {
		e.t.Fatalf("close state: %v", err)
	}
	e.open()
}

// cycle runs one cycle that must succeed and returns the events the sink got.
func (e *env) cycle() (tasks.CycleReport, []schema.Event) {
	e.t.Helper()
	rep, err := e.p.Cycle(context.Background())
	if err != nil {
		e.t.Fatalf("cycle: %v", err)
	}
	return rep, decodeAll(e.t, e.sink.take())
}

func decodeAll(t *testing.T, msgs []schema.Message) []schema.Event {
	t.Helper()
	evs := make([]schema.Event, 0, len(msgs))
	for _, m := range msgs {
		var ev schema.Event
		if err := json.Unmarshal(m.Body, &ev); err != nil {
			t.Fatalf("decode published event: %v\n%s", err, m.Body)
		}
		evs = append(evs, ev)
	}
	return evs
}

// task builds a listed task: task("a", `"status":"PENDING"`) is {"id":"a","status":"PENDING"}.
func task(id string, fields ...string) schema.Task {
	raw := fmt.Sprintf(`{"id":%q`, id)
	for _, f := range fields {
		raw += "," + f
	}
	return schema.Task{ID: id, Raw: json.RawMessage(raw + "}")}
}

// opsOf summarises events as "op:subject" strings, in order.
func opsOf(evs []schema.Event) string {
	s := make([]string, len(evs))
	for i, ev := range evs {
		s[i] = string(ev.Data.Op) + ":" + ev.Subject
	}
	return strings.Join(s, " ")
}

// manyTasks returns n tasks t000..t(n-1).
func manyTasks(n int) []schema.Task {
	ts := make([]schema.Task, n)
	for i := range ts {
		ts[i] = task(fmt.Sprintf("t%03d", i), `"status":"PENDING"`)
	}
	return ts
}
