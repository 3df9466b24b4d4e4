package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/reten/reten-relay/relay/config"
	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/sources/reten/retensim"
)

// TestSecret_TheAPIKeyAppearsNowhere runs the whole relay with a canary key through
// success, failures that echo the key, 401 and 403, and searches every output for it:
// logs at debug level, events, dead letters, /metrics, /readyz and `check`.
func TestSecret_TheAPIKeyAppearsNowhere(t *testing.T) {
	const canary = "rtn_sk_CANARY0123456789abcdef"
	e := newE2E(t, retensim.WithTasks(10))
	e.sim.AddKey(canary, retensim.DefaultTenant, "VIEW_ACTIVITIES", "SUBMIT_ACTIVITY_RESULT")

	var everything relaytest.LogBuffer
	nc, err := nats.Connect(e.nats.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var mu sync.Mutex
	if _, err := nc.Subscribe(">", func(m *nats.Msg) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(&everything, "%s %v %s\n", m.Subject, m.Header, m.Data)
	}); err != nil {
		t.Fatal(err)
	}
	_ = nc.Flush()

	yaml := strings.Replace(e.configYAML(resultsConfig("nats")+"\n"), e.sim.APIKey(), canary, 1)
	yaml = strings.Replace(yaml, "log: {level: error}", "log: {level: debug}", 1)
	cfg, err := config.Load("secret.yaml", []byte(yaml), nil)
	if err != nil {
		t.Fatal(err)
	}
	log := zerolog.New(&everything).Level(zerolog.DebugLevel)
	ctx, cancel := context.WithCancel(context.Background())
	a, err := build(ctx, cfg, log, appOptions{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- a.Run(ctx) }()
	base := "http://" + a.listener.Addr().String()

	r := &resultsE2E{e2e: e, source: "nats"}
	r.subscribeDeadLetters(t)
	relaytest.WaitFor(t, e2eWait, "the results stream", func() bool {
		_, err := r.js.StreamNameBySubject(ctx, "reten.results.e2e")
		return err == nil
	})
	tasks := e.sim.Tasks()
	// A server that echoes the key in its error body, then a rejected and an invalid message.
	e.sim.Script(retensim.EndpointSubmit, retensim.FaultBody(500, "application/json", `{"statusCode":500,"message":"key `+canary+` broke us"}`))
	r.produce(t, resultBody(tasks[0]), []byte(`{"broken":`), bytes.Replace(resultBody(tasks[1]), []byte(tasks[1].ID), []byte("nope"), 1))
	relaytest.WaitFor(t, e2eWait, "the result and two dead letters", func() bool {
		return len(e.sim.Results()) == 1 && len(r.deadLetters()) == 2
	})
	e.sim.RevokeKey(canary)
	r.produce(t, resultBody(tasks[2]))
	relaytest.WaitFor(t, e2eWait, "a 401 on /readyz", func() bool { code, body := get(base + "/readyz"); return code == 503 && strings.Contains(body, "401") })
	e.sim.RestoreKey(canary)
	e.sim.SetPermissions(canary, "SUBMIT_ACTIVITY_RESULT")
	relaytest.WaitFor(t, e2eWait, "a 403 on /readyz", func() bool {
		code, body := get(base + "/readyz")
		return code == 503 && strings.Contains(body, "VIEW_ACTIVITIES")
	})
	for _, path := range []string{"/metrics", "/readyz", "/healthz"} {
		_, body := get(base + path)
		fmt.Fprintln(&everything, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	var stdout, stderr bytes.Buffer
	envWithKey := func(k string) (string, bool) {
		return map[string]string{"RETEN_API_KEY": canary, "RETEN_URL": e.sim.URL()}[k], k == "RETEN_API_KEY" || k == "RETEN_URL"
	}
	code := run(context.Background(), []string{"check", "-config", "../../config.yaml"}, &stdout, &stderr, envWithKey)
	fmt.Fprintln(&everything, stdout.String(), stderr.String())
	if code != exitFailure {
		t.Errorf("check with a key lacking VIEW_ACTIVITIES exited %d, want 1:\n%s", code, stdout.String())
	}

	out := everything.String()
	if strings.Contains(out, canary) || strings.Contains(out, "CANARY") {
		i := strings.Index(out, "CANARY")
		t.Fatalf("the API key leaked: …%s…", out[max(0, i-200):min(len(out), i+100)])
	}
	for _, want := range []string{"reten.tasks.created", "dead letter", "reten_relay_results_total", "401", "VIEW_ACTIVITIES"} {
		if !strings.Contains(out, want) {
			t.Errorf("the captured output lacks %q: the test did not see what it meant to search", want)
		}
	}
}
