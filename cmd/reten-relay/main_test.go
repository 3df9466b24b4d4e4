package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/reten/reten-relay/relay/relaytest"
)

// noEnv is an empty environment.
func noEnv(string) (string, bool) { return "", false }

// runCLI runs the command in-process and returns its exit code and output.
func runCLI(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, &stdout, &stderr, noEnv)
	return code, stdout.String(), stderr.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCLI_BadConfigExitsTwoWithFileLineAndFieldOnly(t *testing.T) {
	path := writeFile(t, "bad.yaml", "reten:\n  url: simulator\ntasks:\n  interval: banana\n  routes:\n    - name: a\n      sink: carrier-pigeon\n      subject: x\n")
	for _, cmd := range []string{"run", "check", "dlq"} {
		t.Run(cmd, func(t *testing.T) {
			args := []string{cmd, "-config", path}
			if cmd == "dlq" {
				args = []string{"dlq", "replay", "-config", path}
			}
			code, stdout, stderr := runCLI(t, context.Background(), args...)
			if code != exitUsage {
				t.Fatalf("exit %d, want 2; stderr %s", code, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			re := regexp.MustCompile(`^` + regexp.QuoteMeta(path) + `:\d+: [a-z_.\[\]0-9]+: .+`)
			for _, l := range lines {
				if !re.MatchString(l) {
					t.Errorf("line %q is not FILE:LINE: FIELD: message", l)
				}
			}
			if !strings.Contains(stderr, ":4: tasks.interval:") {
				t.Errorf("stderr does not name tasks.interval at line 4:\n%s", stderr)
			}
		})
	}
}

func TestCLI_UsageErrorsExitTwo(t *testing.T) {
	for _, args := range [][]string{{}, {"frobnicate"}, {"run", "-nope"}, {"routes"}, {"dlq"}} {
		if code, _, _ := runCLI(t, context.Background(), args...); code != exitUsage {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func TestCLI_VersionNamesGoVersion(t *testing.T) {
	code, out, _ := runCLI(t, context.Background(), "version")
	if code != 0 || !strings.HasPrefix(out, "reten-relay ") || !strings.Contains(out, "go1.") || !strings.Contains(out, "commit ") {
		t.Fatalf("version: %d %q", code, out)
	}
}

func TestCLI_RoutesExplainsTheShippedRouting(t *testing.T) {
	task := writeFile(t, "task.json", `{"id":"a1b2c3d4-e5f6-7890-abcd-ef1234567890","type":"TASK","status":"COMPLETED","channel":"SALES.MAN","commerceExternalId":"COM-001"}`)
	code, out, stderr := runCLI(t, context.Background(), "routes", "-config", "../../config.yaml", task)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"created:",
		"✓ all-tasks",
		"nats reten.tasks.created.SALES_MAN", // the dot in the value cannot add a token
		"✗ pending-by-id",
		`status is "COMPLETED"`,
		"deleted:",
		"nats reten.tasks.deleted.SALES_MAN",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestCLI_RunStopsCleanlyOnSignal(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, "c.yaml", `
reten: {url: simulator}
nats: {url: embedded, store_dir: `+filepath.Join(dir, "nats")+`, embedded_port: -1}
tasks:
  interval: 100ms
  state: `+filepath.Join(dir, "tasks.db")+`
  routes: [{name: all, sink: nats, subject: "reten.tasks.{op}"}]
results: {dead_letter: reten.dlq.results}
http: {listen: "127.0.0.1:0"}
log: {level: info}
`)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var stdout, stderr relaytest.LogBuffer
	go func() { done <- run(ctx, []string{"run", "-config", cfg}, &stdout, &stderr, noEnv) }()
	relaytest.WaitFor(t, 30*time.Second, "a first complete poll", func() bool { return strings.Contains(stdout.String(), "tasks cycle") })
	cancel() // what main does on SIGINT/SIGTERM
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d after shutdown: %s %s", code, stdout.String(), stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop within 30s of the signal")
	}
}

func TestDemo_ShowsEventsResultsAndADeadLetter(t *testing.T) {
	code, out, stderr := runCLI(t, context.Background(), "demo", "-duration", "6s", "-interval", "500ms", "-tasks", "120", "-config", "../../config.yaml")
	if code != 0 {
		t.Fatalf("demo exit %d: %s", code, stderr)
	}
	for _, want := range []string{"event created", "poll: ", "result  accepted by Reten (201)", "dead letter (", "demo done after"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if m := regexp.MustCompile(`(\d+) results accepted`).FindStringSubmatch(out); m == nil || m[1] == "0" {
		t.Errorf("no accepted results in the summary:\n%s", out)
	}
}
