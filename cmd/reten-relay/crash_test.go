package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/sources/reten/retensim"
)

// TestMain lets a test run this test binary as the relay itself, so crash tests can kill a
// real process: RETEN_RELAY_AS_MAIN holds the arguments of `run`, RETEN_RELAY_CRASH_AT a
// point where the relay stops dead ("after-commit:N" or "after-publish:N", the Nth time),
// prints CRASHPOINT and waits to be killed; RETEN_RELAY_CHUNK_SIZE sets the tasks chunk.
func TestMain(m *testing.M) {
	if args := os.Getenv("RETEN_RELAY_AS_MAIN"); args != "" {
		if dir := os.Getenv("RETEN_BENCH_PROFILE"); dir != "" {
			profileOnSignals(dir, os.Getenv("RETEN_BENCH_PROFILE_SYNC") != "")
		}
		os.Exit(childMain(strings.Split(args, " ")))
	}
	if args := os.Getenv("RETEN_RELAY_AS_SIM"); args != "" { // benchmarks: a simulator of its own
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		os.Exit(cmdSim(ctx, strings.Split(args, " "), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func childMain(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	path := args[len(args)-1]
	cfg, code := loadConfig(path, os.Stderr, os.LookupEnv)
	if cfg == nil {
		return code
	}
	log, _ := newLogger(os.Stdout, cmp.Or(os.Getenv("RETEN_BENCH_LOG"), "info"), "json") // not the config's: tests wait for info lines
	serveProfiles(ctx, os.LookupEnv, log)                                                // benchmarks: profile the relay alone
	var opts appOptions
	opts.taskChunk, _ = strconv.Atoi(os.Getenv("RETEN_RELAY_CHUNK_SIZE"))
	if at := os.Getenv("RETEN_RELAY_CRASH_AT"); at != "" {
		point, nth, _ := strings.Cut(at, ":")
		n, _ := strconv.Atoi(nth)
		var mu sync.Mutex
		calls := 0
		hook := func() {
			mu.Lock()
			calls++
			hit := calls == n
			mu.Unlock()
			if hit {
				fmt.Println("CRASHPOINT " + at)
				select {} // wait for SIGKILL
			}
		}
		switch point {
		case "after-commit":
			opts.taskHooks.AfterOutboxCommit = hook
		case "after-publish":
			opts.taskHooks.AfterPublish = hook
		}
	}
	return runApp(ctx, cfg, "", log, os.LookupEnv, opts)
}

// child is a relay running as a real subprocess.
type child struct {
	cmd *exec.Cmd
	out relaytest.LogBuffer
}

// startChild runs `reten-relay run -config configPath` as a subprocess, to be killed at
// crashAt ("" for never), with env added to its environment.
func startChild(t testing.TB, configPath, crashAt string, env ...string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(os.Args[0], "-test.run=^$")}
	c.cmd.Env = append(append(os.Environ(), "RETEN_RELAY_AS_MAIN=run -config "+configPath, "RETEN_RELAY_CRASH_AT="+crashAt), env...)
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.cmd.Stderr = &c.out
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			_, _ = c.out.Write(append(sc.Bytes(), '\n'))
		}
	}()
	t.Cleanup(func() { c.kill() })
	return c
}

// kill is SIGKILL: no shutdown, no flush, nothing.
func (c *child) kill() {
	if c.cmd.ProcessState == nil {
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
	}
}

func (c *child) waitFor(t testing.TB, what, marker string) {
	t.Helper()
	relaytest.WaitFor(t, e2eWait, what, func() bool { return strings.Contains(c.out.String(), marker) })
}

func TestCrash_TasksNeverLoseAnEventAndRepublishWithTheSameID(t *testing.T) {
	cases := []struct {
		name    string
		crashAt string
		// between runs the world changes: the relay is dead meanwhile.
		meanwhile func(e *e2e, sub *subscriber)
		before    func(t *testing.T, e *e2e, sub *subscriber)
	}{
		{name: "killed after the outbox commit, before publishing", crashAt: "after-commit:1"},
		{name: "killed mid-publish, after the broker confirmed a batch", crashAt: "after-publish:1"},
		{
			name:    "a task created, the relay killed, the task deleted before the restart",
			crashAt: "after-publish:2", // the first sync is one batch; the second is the new task
			before: func(t *testing.T, e *e2e, sub *subscriber) {
				relaytest.WaitFor(t, e2eWait, "the first sync", func() bool { return sub.count(schema.OpCreated) >= 300 })
				e.sim.AddTask(retensim.Task{ID: "short-lived-task", Channel: "WHATSAPP"})
			},
			meanwhile: func(e *e2e, sub *subscriber) { e.sim.DeleteTask("short-lived-task") },
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newE2E(t, retensim.WithTasks(300))
			sub := e.subscribe()
			path := e.configFile("")
			first := startChild(t, path, c.crashAt)
			if c.before != nil {
				c.before(t, e, sub)
			}
			first.waitFor(t, "the crash point", "CRASHPOINT")
			first.kill()
			if c.meanwhile != nil {
				c.meanwhile(e, sub)
			}
			startChild(t, path, "")
			relaytest.WaitFor(t, e2eWait, "the subscriber's task set to equal the simulator's", func() bool {
				return sameTaskSets(t, sub.taskSet(), simSet(t, e.sim))
			})
			dups := sub.checkIDs(t)
			t.Logf("%d events, %d re-published with their original id", len(sub.snapshot()), dups)
			if c.meanwhile != nil && sub.count(schema.OpDeleted) != 1 {
				t.Fatalf("%d deleted events, want the short-lived task's", sub.count(schema.OpDeleted))
			}
		})
	}
}

func TestCrash_ResultsKilledMidStreamLoseNothing(t *testing.T) {
	r := &resultsE2E{e2e: newE2E(t, retensim.WithTasks(400), retensim.WithLatency(2*time.Millisecond)), source: "nats"}
	r.subscribeDeadLetters(t)
	path := r.configFile(resultsConfig("nats"))
	tasks := r.sim.Tasks()
	var bodies [][]byte
	for _, task := range tasks {
		bodies = append(bodies, resultBody(task))
	}
	first := startChild(t, path, "")
	relaytest.WaitFor(t, e2eWait, "the relay to create the results stream", func() bool {
		_, err := r.js.StreamNameBySubject(context.Background(), "reten.results.e2e")
		return err == nil
	})
	r.produce(t, bodies...)
	relaytest.WaitFor(t, e2eWait, "the relay to be mid-stream", func() bool { return len(r.sim.Results()) >= 100 })
	first.kill()
	atKill := len(r.sim.Results())
	startChild(t, path, "")
	relaytest.WaitFor(t, e2eWait, "every result delivered after the restart", func() bool { return delivered(r.sim, tasks) })
	if n := len(r.deadLetters()); n != 0 {
		t.Fatalf("%d dead letters", n)
	}
	t.Logf("killed after %d of %d results; %d duplicates answered 409 after the restart",
		atKill, len(tasks), r.sim.Responses(retensim.EndpointSubmit, 409))
}

// A first sync of several chunks keeps the snapshot entries of its new tasks aside until
// its last commit (relay/state's runs). Killed after its first chunks, before that
// commit, the relay starts again from the runs: every task reaches the stream exactly
// once as created (a re-published event has its id, and the stream drops the copy), and
// a task of the first chunk changed meanwhile is updated from the version it was created
// with.
func TestCrash_AFirstSyncKilledBetweenChunksCreatesEachTaskOnce(t *testing.T) {
	const n, chunk = 2_500, "RETEN_RELAY_CHUNK_SIZE=1000" // two and a half chunks
	e := newE2E(t, retensim.WithTasks(n))
	path := e.configFile("")
	// One batch confirmed: the listing's last commit waits until the sink confirmed all
	// but a chunk of the first two chunks' events, so it has not happened yet.
	first := startChild(t, path, "after-publish:1", chunk)
	first.waitFor(t, "the crash point", "CRASHPOINT")
	first.kill()
	changed := e.sim.Tasks()[0] // listed first: in the first chunk
	createdAs, _ := json.Marshal(changed)
	e.sim.UpdateTask(changed.ID, func(t *retensim.Task) { t.Status = "COMPLETED" })
	second := startChild(t, path, "", chunk)
	second.waitFor(t, "a cycle after the restart", `"message":"tasks cycle"`)

	js := jetStreamOf(t, e)
	relaytest.WaitFor(t, e2eWait, "every task's event in the stream", func() bool {
		s, err := js.Stream(context.Background(), taskStream)
		if err != nil {
			return false
		}
		info, err := s.Info(context.Background())
		return err == nil && info.State.Msgs >= n+1
	})
	evs := streamEvents(t, js, taskStream)
	created := map[string]int{}
	for _, ev := range evs {
		switch {
		case ev.Data.Op == schema.OpCreated:
			created[ev.Subject]++
		case ev.Data.Op == schema.OpUpdated && ev.Subject == changed.ID:
			if !jsonEqual(string(ev.Data.Previous), string(createdAs)) {
				t.Fatalf("updated %s: previous %s, want the version it was created with, %s", ev.Subject, ev.Data.Previous, createdAs)
			}
		default:
			t.Fatalf("%s event for %s; only %s changed", ev.Data.Op, ev.Subject, changed.ID)
		}
	}
	if len(evs) != n+1 {
		t.Fatalf("%d events in the stream, want %d created and 1 updated", len(evs), n)
	}
	for _, task := range e.sim.Tasks() {
		if created[task.ID] != 1 {
			t.Fatalf("task %s created %d times, want once (%d events in the stream)", task.ID, created[task.ID], len(evs))
		}
	}
}
