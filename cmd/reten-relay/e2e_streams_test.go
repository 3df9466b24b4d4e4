package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/reten/reten-relay/relay/config"
	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/sinks/natssink"
	"github.com/reten/reten-relay/sinks/natsstreams"
	"github.com/reten/reten-relay/sources/reten/retensim"
)

// jsClient is a test's own JetStream connection to e's server.
func (e *e2e) jsClient() (jetstream.JetStream, context.Context) {
	e.t.Helper()
	nc, err := nats.Connect(e.nats.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*e2eWait)
	e.t.Cleanup(cancel)
	return js, ctx
}

// streamCount is how many messages stream holds on subjects matching filter (0 when the
// stream does not exist or the server does not answer). Each call waits a few seconds at
// most, whatever ctx allows: a request sent while the connection is being re-established
// can be lost, and the caller's WaitFor asks again.
func streamCount(ctx context.Context, js jetstream.JetStream, stream, filter string) int {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return 0
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return 0
	}
	n := 0
	for _, c := range info.State.Subjects {
		n += int(c)
	}
	return n
}

// apply replays events onto set (task id → task JSON), as a subscriber rebuilds its copy.
func apply(set map[string]string, events []schema.Event) {
	for _, ev := range events {
		if ev.Data.Op == schema.OpDeleted {
			delete(set, ev.Subject)
		} else {
			set[ev.Subject] = string(ev.Data.Task)
		}
	}
}

func TestE2E_Streams_TheShippedConfigDeliversEveryEventOnEveryMatchingRoute(t *testing.T) {
	e := newE2E(t, retensim.WithTasks(200))
	getenv := func(k string) (string, bool) {
		v, ok := map[string]string{"RETEN_URL": e.sim.URL(), "RETEN_API_KEY": e.sim.APIKey(), "NATS_URL": e.nats.URL()}[k]
		return v, ok
	}
	cfg, err := config.LoadFile("../../config.yaml", getenv)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Tasks.State, cfg.HTTP.Listen = filepath.Join(e.dir, "tasks.db"), "127.0.0.1:0"
	var onAll, onPending atomic.Int64
	nc, err := nats.Connect(e.nats.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for subject, n := range map[string]*atomic.Int64{"reten.tasks.*.*": &onAll, "reten.pending.*": &onPending} {
		if _, err := nc.Subscribe(subject, func(*nats.Msg) { n.Add(1) }); err != nil {
			t.Fatal(err)
		}
	}
	_ = nc.Flush()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := build(ctx, cfg, testLogger(t), appOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.close(context.Background()) })

	pending := func() (n int) {
		for _, task := range e.sim.Tasks() {
			if task.Status == "PENDING" || task.Status == "IN_PROGRESS" {
				n++
			}
		}
		return n
	}
	wantAll, wantPending := 200, pending()
	cycle(t, a)
	tasks := e.sim.Tasks()
	for _, task := range tasks[:20] {
		e.sim.UpdateTask(task.ID, func(t *retensim.Task) { t.Status = "PENDING"; t.CommerceName += " (renamed)" })
	}
	for _, task := range tasks[20:30] {
		e.sim.UpdateTask(task.ID, func(t *retensim.Task) { t.Status = "COMPLETED" })
	}
	for _, task := range tasks[30:35] {
		e.sim.DeleteTask(task.ID)
	}
	cycle(t, a)
	cycle(t, a) // confirms the deletes
	// pending-by-id takes created and updated events of PENDING or IN_PROGRESS tasks only.
	wantAll, wantPending = wantAll+20+10+5, wantPending+20

	js, _ := e.jsClient()
	relaytest.WaitFor(t, e2eWait, "every event on both routes, in the stream and at the subscribers", func() bool {
		return streamCount(ctx, js, "RETEN_TASKS", "reten.tasks.>") == wantAll && streamCount(ctx, js, "RETEN_TASKS", "reten.pending.>") == wantPending &&
			int(onAll.Load()) == wantAll && int(onPending.Load()) == wantPending
	})
	if wantPending == 0 {
		t.Fatal("the simulator has no pending task: the pending-by-id route was not exercised")
	}
	t.Logf("all-tasks: %d events, pending-by-id: %d events, both in RETEN_TASKS", wantAll, wantPending)
}

// withResults is a tasks+results config of e (results from NATS, dead letters to
// reten.dlq.results); the relay is built from it but not started.
func (e *e2e) buildWithResults(t *testing.T) (*app, error) {
	t.Helper()
	cfg, err := config.Load("test.yaml", []byte(e.configYAML(resultsConfig("nats"))), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := build(ctx, cfg, testLogger(t), appOptions{})
	if err == nil {
		t.Cleanup(func() { _ = a.close(context.Background()) })
	}
	return a, err
}

func TestE2E_Streams_PreExistingStreamsOnTheTaskAndDeadLetterSubjectsAreUsed(t *testing.T) {
	e := newE2E(t, retensim.WithTasks(30))
	js, ctx := e.jsClient()
	for name, subject := range map[string]string{"OPS_TASKS": "reten.tasks.>", "OPS_DLQ": "reten.dlq.>"} {
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{subject}}); err != nil {
			t.Fatal(err)
		}
	}
	a, err := e.buildWithResults(t)
	if err != nil {
		t.Fatalf("start-up with existing streams: %v", err)
	}
	runInBackground(t, a)
	if _, err := js.Publish(ctx, "reten.results.x", []byte(`{"not":"a result"}`)); err != nil {
		t.Fatal(err)
	}
	relaytest.WaitFor(t, e2eWait, "30 events in OPS_TASKS and a dead letter in OPS_DLQ", func() bool {
		return streamCount(ctx, js, "OPS_TASKS", ">") == 30 && streamCount(ctx, js, "OPS_DLQ", ">") == 1
	})
	for _, name := range []string{"RETEN_TASKS", "RETEN_DLQ"} {
		if _, err := js.Stream(ctx, name); !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Errorf("stream %s was created although an existing stream captures its subjects: %v", name, err)
		}
	}
	// "" is allowed: a stream-created advisory may have made the sink forget its decision.
	if got := a.nats.Mode("reten.tasks.created.WHATSAPP"); got == natssink.ModeCore {
		t.Errorf("task subjects go out as %q", got)
	}
}

func TestE2E_Streams_ATemplateWithTwoFieldsInOneTokenGoesToJetStream(t *testing.T) {
	e := newE2E(t, retensim.WithTasks(40))
	e.routes = `[{name: joined, sink: nats, subject: "reten.tasks.{op}_{channel}"}]`
	a := e.app("", appOptions{})
	cycle(t, a)
	js, ctx := e.jsClient()
	st, err := js.Stream(ctx, "RETEN_TASKS")
	if err != nil {
		t.Fatal(err)
	}
	if got := st.CachedInfo().Config.Subjects; len(got) != 1 || got[0] != "reten.tasks.*" {
		t.Fatalf("RETEN_TASKS captures %v, want [reten.tasks.*]", got)
	}
	if n := streamCount(ctx, js, "RETEN_TASKS", ">"); n != 40 {
		t.Fatalf("RETEN_TASKS holds %d events, want 40 (every one acknowledged by JetStream)", n)
	}
	// "" is allowed: the advisory of RETEN_TASKS's creation may have made the sink forget
	// its decision; the 40 events in the stream above show where they went.
	if got := a.nats.Mode("reten.tasks.created_WHATSAPP"); got == natssink.ModeCore {
		t.Fatalf("reten.tasks.created_WHATSAPP goes out as %q", got)
	}
}

func TestE2E_Streams_ASameNameStreamWithOtherSubjectsIsAClearErrorAndLosesNothing(t *testing.T) {
	e := newE2E(t, retensim.WithTasks(10))
	js, ctx := e.jsClient()
	for _, sc := range []jetstream.StreamConfig{
		{Name: "RETEN_DLQ", Subjects: []string{"ops.other.>"}},
		{Name: "OPS_RESULTS", Subjects: []string{"reten.results.>"}},
	} {
		if _, err := js.CreateStream(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := js.Publish(ctx, "reten.results.x", []byte(`{"not":"a result"}`)); err != nil {
		t.Fatal(err)
	}
	_, err := e.buildWithResults(t)
	if !errors.Is(err, natsstreams.ErrConflict) || !strings.Contains(err.Error(), "stream RETEN_DLQ exists with subjects ops.other.> and does not capture reten.dlq.results") {
		t.Fatalf("start-up error = %v, want a conflict naming RETEN_DLQ and its subjects", err)
	}
	// Nothing half-made, nothing consumed: the result waits in its stream, no consumer took it.
	if _, err := js.Stream(ctx, "RETEN_TASKS"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("a failed start-up left RETEN_TASKS behind: %v", err)
	}
	st, _ := js.Stream(ctx, "OPS_RESULTS")
	if info, err := st.Info(ctx); err != nil || info.State.Msgs != 1 || info.State.Consumers != 0 {
		t.Fatalf("results stream after the failed start-up: %+v, %v", info, err)
	}
}

func TestE2E_Streams_AServerThatLostItsStoreGetsItsStreamsBackAndNothingIsLost(t *testing.T) {
	e := newE2E(t, retensim.WithTasks(50))
	e.routes = `[{name: all, sink: nats, subject: "reten.tasks.{op}.{channel}"}, {name: by-id, sink: nats, subject: "reten.byid.{id}"}]`
	cfg, err := config.Load("test.yaml", []byte(e.configYAML("")), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	a, err := build(ctx, cfg, zerolog.Nop(), appOptions{})
	if err != nil {
		t.Fatal(err)
	}
	runInBackground(t, a)
	js, _ := e.jsClient()
	relaytest.WaitFor(t, e2eWait, "the first sync in RETEN_TASKS", func() bool { return streamCount(ctx, js, "RETEN_TASKS", "reten.tasks.>") == 50 })
	set := map[string]string{}
	// Both routes share the stream: each change is there twice, in order, so applying
	// every message gives the same set.
	apply(set, streamEvents(t, js, "RETEN_TASKS"))

	// The server comes back with an empty store (a lost volume); meanwhile tasks change.
	e.nats.Stop()
	if err := os.RemoveAll(e.nats.StoreDir); err != nil {
		t.Fatal(err)
	}
	tasks := e.sim.Tasks()
	e.sim.AddTasks(5)
	for _, task := range tasks[:3] {
		e.sim.UpdateTask(task.ID, func(t *retensim.Task) { t.Status = "COMPLETED" })
	}
	e.sim.DeleteTask(tasks[10].ID)
	e.sim.DeleteTask(tasks[11].ID)
	e.nats.Start()

	// The relay reconnects, re-creates the streams and retries its queues with backoff: on a
	// loaded machine that takes longer than the other waits.
	relaytest.WaitFor(t, 3*e2eWait, "the changes in the re-created RETEN_TASKS", func() bool {
		return streamCount(ctx, js, "RETEN_TASKS", "reten.tasks.>") == 5+3+2
	})
	apply(set, streamEvents(t, js, "RETEN_TASKS"))
	if !sameTaskSets(t, set, simSet(t, e.sim)) {
		t.Fatalf("the task set rebuilt from the streams (%d tasks) differs from the simulator's (%d)", len(set), len(e.sim.Tasks()))
	}
	if n := streamCount(ctx, js, "RETEN_TASKS", "reten.byid.>"); n != 5+3+2 {
		t.Fatalf("the second route holds %d events after the restart, want 10", n)
	}
}

func TestE2E_Streams_StartUpWaitsForNATSWithHealthzGreenAndReadyzRed(t *testing.T) {
	e := newE2E(t, retensim.WithTasks(5))
	e.nats.Stop()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	cfg, err := config.Load("test.yaml", []byte(strings.Replace(e.configYAML(""), `listen: "127.0.0.1:0"`, `listen: "`+addr+`"`, 1)), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	built := make(chan error, 1)
	go func() {
		a, err := build(ctx, cfg, zerolog.Nop(), appOptions{})
		if err == nil {
			t.Cleanup(func() { _ = a.close(context.Background()) })
		}
		built <- err
	}()
	relaytest.WaitFor(t, e2eWait, "/healthz green and /readyz red naming NATS while NATS is down", func() bool {
		hz, _ := get("http://" + addr + "/healthz")
		rz, body := get("http://" + addr + "/readyz")
		return hz == 200 && rz == 503 && strings.Contains(body, "waiting for NATS")
	})
	select {
	case err := <-built:
		t.Fatalf("start-up ended while NATS was down: %v", err)
	default:
	}
	e.nats.Start()
	select {
	case err := <-built:
		if err != nil {
			t.Fatalf("start-up after NATS came up: %v", err)
		}
	case <-time.After(e2eWait):
		t.Fatal("start-up did not finish after NATS came up")
	}
}

func TestE2E_Streams_AnEmbeddedPortInUseNamesTheSettingsToChange(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	e := newE2E(t)
	yaml := strings.Replace(e.configYAML(""), "nats: {url: "+strconv.Quote(e.nats.URL())+"}",
		fmt.Sprintf("nats: {url: embedded, store_dir: %q, embedded_port: %d}", filepath.Join(e.dir, "nats"), l.Addr().(*net.TCPAddr).Port), 1)
	cfg, err := config.Load("test.yaml", []byte(yaml), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = build(context.Background(), cfg, zerolog.Nop(), appOptions{})
	if err == nil || !strings.Contains(err.Error(), "NATS_EMBEDDED_PORT") || !strings.Contains(err.Error(), "NATS_URL") {
		t.Fatalf("start-up on a busy embedded port: %v", err)
	}
}

func TestCheck_SaysPerSubjectWhichStreamCapturesItAsRunDecides(t *testing.T) {
	e := newE2E(t)
	js, ctx := e.jsClient()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "OPS_TASKS", Subjects: []string{"reten.tasks.>"}}); err != nil {
		t.Fatal(err)
	}
	path := e.configFile(resultsConfig("nats"))
	code, out, stderr := runCLI(t, ctx, "check", "-config", path)
	if code != exitOK {
		t.Fatalf("check: exit %d\n%s%s", code, out, stderr)
	}
	for _, want := range []string{
		"✓ nats: JetStream available (1 streams)",
		"✓ nats stream for route all: reten.tasks.*.* is captured by stream OPS_TASKS",
		"✓ nats stream for results.dead_letter: no stream captures reten.dlq.results: stream RETEN_DLQ will be created",
		"✓ nats stream for results.subject: no stream captures reten.results.>: stream RETEN_RESULTS will be created",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "RETEN_DLQ", Subjects: []string{"ops.other"}}); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCLI(t, ctx, "check", "-config", path)
	if code != exitFailure || !strings.Contains(out, "✗ nats streams: jetstream stream conflict: results.dead_letter: stream RETEN_DLQ exists with subjects ops.other") {
		t.Fatalf("check with a conflicting stream: exit %d\n%s", code, out)
	}
}

func TestE2E_Streams_AfterAStoreLossResultsAndDeadLettersGoIntoReCreatedStreams(t *testing.T) {
	r := startResults(t, "nats", "2s")
	js, ctx := r.jsClient()
	if _, err := js.Publish(ctx, "reten.results.x", []byte(`{"not":"a result"}`)); err != nil {
		t.Fatal(err)
	}
	relaytest.WaitFor(t, e2eWait, "the first dead letter", func() bool { return streamCount(ctx, js, "RETEN_DLQ", ">") == 1 })

	r.nats.Stop()
	if err := os.RemoveAll(r.nats.StoreDir); err != nil {
		t.Fatal(err)
	}
	r.nats.Start()
	// The relay re-creates the input stream (and its durable) and the dead-letter stream;
	// a producer publishing into the input retries until the stream is back.
	relaytest.WaitFor(t, e2eWait, "the input stream back", func() bool {
		// A few seconds per try (see streamCount): a publish can be lost in the reconnect.
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, err := js.Publish(ctx, "reten.results.y", []byte(`{"still":"not a result"}`))
		return err == nil
	})
	relaytest.WaitFor(t, e2eWait, "a dead letter in the re-created RETEN_DLQ", func() bool { return streamCount(ctx, js, "RETEN_DLQ", ">") >= 1 })
}
