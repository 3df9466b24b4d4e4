package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/reten/reten-relay/relay/config"
	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/sources/reten/retensim"
)

// secureRun is one secured end-to-end run: a simulator with a few tasks, the relay built
// from a config file, and everything the relay says (logs at debug, errors, /metrics,
// /readyz, check, events, dead letters) collected in out for the secret search.
type secureRun struct {
	t   *testing.T
	sim *retensim.Sim
	dir string
	out relaytest.LogBuffer
}

// secureTasks is how many tasks the simulator holds: each becomes a created event.
const secureTasks = 4

func newSecureRun(t *testing.T) *secureRun {
	return &secureRun{t: t, sim: retensim.New(t, retensim.WithTasks(secureTasks)), dir: t.TempDir()}
}

// configFile writes a config with the given broker sections, tasks routes and results
// section; the tasks section is left out when routes is "".
func (s *secureRun) configFile(name, brokers, routes, results string) string {
	s.t.Helper()
	doc := fmt.Sprintf("reten: {url: %q, api_key: %q, timeout: 2s}\nhttp: {listen: \"127.0.0.1:0\"}\nlog: {level: debug}\n%s\n%s\n",
		s.sim.URL(), s.sim.APIKey(), brokers, results)
	if routes != "" {
		doc += fmt.Sprintf("tasks:\n  interval: 100ms\n  state: %q\n  routes: %s\n", filepath.Join(s.dir, name+".db"), routes)
	}
	p := filepath.Join(s.dir, name+".yaml")
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		s.t.Fatal(err)
	}
	return p
}

func (s *secureRun) load(path string) *config.Config {
	s.t.Helper()
	cfg, err := config.LoadFile(path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	return cfg
}

// start builds and runs the relay from path; the returned func stops it. /readyz asks
// Kafka every 100ms instead of 5s, so that a test sees a change at once.
func (s *secureRun) start(path string) (base string, stop func()) {
	s.t.Helper()
	log := zerolog.New(&s.out).Level(zerolog.DebugLevel)
	ctx, cancel := context.WithCancel(context.Background())
	bctx, bcancel := context.WithTimeout(ctx, time.Minute)
	defer bcancel()
	a, err := build(bctx, s.load(path), log, appOptions{kafkaWatch: 100 * time.Millisecond})
	if err != nil {
		cancel()
		s.t.Fatalf("build: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	base = "http://" + a.listener.Addr().String()
	return base, func() {
		s.t.Helper()
		for _, p := range []string{"/metrics", "/readyz", "/healthz"} {
			_, body := get(base + p)
			fmt.Fprintln(&s.out, body)
		}
		cancel()
		if err := <-done; err != nil {
			s.t.Errorf("relay stopped with %v", err)
		}
	}
}

// waitResults waits until the simulator holds n results.
func (s *secureRun) waitResults(n int) {
	s.t.Helper()
	relaytest.WaitFor(s.t, e2eWait, fmt.Sprintf("%d results in Reten", n), func() bool { return len(s.sim.Results()) == n })
}

// runFails runs `reten-relay run` and expects exit 1 at start-up with every want in its
// output. A hang would end at the context's deadline and fail the test.
func (s *secureRun) runFails(path string, wants ...string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	var stdout, stderr relaytest.LogBuffer
	code := run(ctx, []string{"run", "-config", path}, &stdout, &stderr, noEnv)
	out := stdout.String() + stderr.String()
	fmt.Fprintln(&s.out, out)
	s.t.Logf("run: %s", out)
	if ctx.Err() != nil {
		s.t.Fatalf("run hung until the test's deadline instead of failing:\n%s", out)
	}
	if code != exitFailure {
		s.t.Fatalf("run exited %d, want 1:\n%s", code, out)
	}
	for _, w := range wants {
		if !strings.Contains(out, w) {
			s.t.Errorf("run's output lacks %q:\n%s", w, out)
		}
	}
}

// check runs `reten-relay check` and returns its exit code and stdout.
func (s *secureRun) check(path string) (int, string) {
	s.t.Helper()
	var stdout, stderr relaytest.LogBuffer
	code := run(context.Background(), []string{"check", "-config", path, "-timeout", "10s"}, &stdout, &stderr, noEnv)
	fmt.Fprintln(&s.out, stdout.String(), stderr.String())
	s.t.Logf("check: %s", stdout.String())
	return code, stdout.String() + stderr.String()
}

// replayOne runs `reten-relay dlq replay -limit 1` and expects one dead letter replayed.
func (s *secureRun) replayOne(path string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	var stdout, stderr relaytest.LogBuffer
	code := run(ctx, []string{"dlq", "replay", "-config", path, "-limit", "1"}, &stdout, &stderr, noEnv)
	fmt.Fprintln(&s.out, stdout.String(), stderr.String())
	if code != exitOK || !strings.Contains(stdout.String(), "replayed 1 dead letters") {
		s.t.Errorf("dlq replay exited %d:\n%s%s", code, stdout.String(), stderr.String())
	}
}

// checkFails runs `reten-relay check` and expects exit 1 with every want in its output.
func (s *secureRun) checkFails(path string, wants ...string) {
	s.t.Helper()
	code, out := s.check(path)
	if code != exitFailure {
		s.t.Errorf("check exited %d, want 1:\n%s", code, out)
	}
	for _, w := range wants {
		if !strings.Contains(out, w) {
			s.t.Errorf("check's output lacks %q:\n%s", w, out)
		}
	}
}

// noSecrets fails when any secret appears in anything the relay said, and when the
// output lacks any of seen (proof that the search looked at what it meant to).
func (s *secureRun) noSecrets(secrets []string, seen ...string) {
	s.t.Helper()
	out := s.out.String()
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		if i := strings.Index(out, sec); i >= 0 {
			s.t.Errorf("a secret leaked: …%s…", out[max(0, i-200):min(len(out), i+len(sec)+50)])
		}
	}
	for _, w := range seen {
		if !strings.Contains(out, w) {
			s.t.Errorf("the captured output lacks %q: the search did not see what it meant to", w)
		}
	}
}
