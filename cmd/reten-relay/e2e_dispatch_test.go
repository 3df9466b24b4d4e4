package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/reten/reten-relay/relay/config"
	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/schema/schematest"
	"github.com/reten/reten-relay/sources/reten/retensim"
)

// pushKey is the provider credential Reten's dispatch configuration sends in these tests.
const pushKey = "push-key-for-tests"

// pushEnv is a relay with the dispatch receiver serving on a random port.
type pushEnv struct {
	*e2e
	a   *app
	url string
}

func newPushEnv(t *testing.T, dispatchExtra string) *pushEnv {
	t.Helper()
	e := newE2E(t, retensim.WithTasks(20))
	a := e.app(fmt.Sprintf("dispatch: {listen: \"127.0.0.1:0\", api_key: %q%s}\n", pushKey, dispatchExtra), appOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.serveDispatch(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("dispatch server: %v", err)
		}
	})
	return &pushEnv{e2e: e, a: a, url: "http://" + a.dispatchLn.Addr().String() + "/activities"}
}

// push POSTs body with key and returns the status and the answer.
func (p *pushEnv) push(t testing.TB, key string, body []byte) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, p.url, bytes.NewReader(body))
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// streamMsgs counts the messages of the relay's task stream.
func (p *pushEnv) streamMsgs(t *testing.T) uint64 {
	t.Helper()
	nc, err := nats.Connect(p.nats.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	s, err := js.Stream(context.Background(), taskStream)
	if err != nil {
		t.Fatalf("task stream: %v", err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func activityJSON(i int) []byte {
	channels := []string{"WHATSAPP", "EMAIL", "SALESMAN", "CALLCENTER"}
	return fmt.Appendf(nil, `{"id":"act-%04d","status":"READY","channel":%q,"commerceExternalId":"COM-%03d"}`, i, channels[i%4], i%1000)
}

func TestDispatch_EveryPushBecomesOneEventOnItsSubjectAndRetriesKeepTheirIDs(t *testing.T) {
	p := newPushEnv(t, "")
	sub := p.subscribe()
	cycle(t, p.a) // the first sync: 20 created
	before := p.streamMsgs(t)
	const n = 500
	send := func() {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 16)
		for i := range n {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				code, body := p.push(t, pushKey, activityJSON(i))
				if want := fmt.Sprintf(`{"id":"act-%04d"}`, i); code != 200 || body != want {
					t.Errorf("push %d: got %d %s, want 200 %s", i, code, body, want)
				}
			}()
		}
		wg.Wait()
	}
	send()
	relaytest.WaitFor(t, 10*time.Second, "500 dispatched events", func() bool { return sub.count(schema.OpDispatched) == n })
	ids := map[string]bool{}
	v := schematest.New(t, schematest.TaskEvent)
	sub.mu.Lock()
	for _, bodies := range sub.raw {
		if err := v.Validate([]byte(bodies[0])); err != nil {
			t.Errorf("event does not match task-event.schema.json: %v", err)
		}
	}
	sub.mu.Unlock()
	for _, ev := range sub.snapshot() {
		if ev.Data.Op != schema.OpDispatched {
			continue
		}
		var task struct{ Channel string }
		_ = json.Unmarshal(ev.Data.Task, &task)
		if ev.Type != "ai.reten.task.dispatched" || !strings.HasPrefix(ev.Subject, "act-") || task.Channel == "" {
			t.Errorf("event %s: type %s subject %s channel %q", ev.ID, ev.Type, ev.Subject, task.Channel)
		}
		ids[ev.ID] = true
	}
	if got := p.streamMsgs(t) - before; got != n || len(ids) != n {
		t.Fatalf("stream gained %d messages with %d distinct ids, want %d", got, len(ids), n)
	}

	send() // Reten retrying every push: same ids, the stream's duplicate window drops them
	relaytest.WaitFor(t, 10*time.Second, "the retried pushes", func() bool { return sub.count(schema.OpDispatched) == 2*n })
	for _, ev := range sub.snapshot() {
		if ev.Data.Op == schema.OpDispatched && !ids[ev.ID] {
			t.Errorf("a retried push got a new id %s", ev.ID)
		}
	}
	if got := p.streamMsgs(t) - before; got != n {
		t.Errorf("after the retries the stream gained %d messages, want %d", got, n)
	}
	if rep := cycle(t, p.a); rep.Created+rep.Updated+rep.Deleted != 0 {
		t.Errorf("pushes changed the poller's view: %+v", rep)
	}
}

func TestDispatch_RefusesWhatItCannotKeepAndPublishesNothing(t *testing.T) {
	p := newPushEnv(t, ", max_body: 1KiB")
	cycle(t, p.a)
	before := p.streamMsgs(t)
	big := fmt.Appendf(nil, `{"id":"big","pad":%q}`, strings.Repeat("x", 2000))
	for _, tc := range []struct {
		name, method, key string
		body              []byte
		want              int
	}{
		{"a wrong key", http.MethodPost, "guess", activityJSON(1), http.StatusUnauthorized},
		{"no key", http.MethodPost, "", activityJSON(1), http.StatusUnauthorized},
		{"malformed JSON", http.MethodPost, pushKey, []byte(`{"id": "a",`), http.StatusBadRequest},
		{"an activity without an id", http.MethodPost, pushKey, []byte(`{"status":"READY"}`), http.StatusBadRequest},
		{"an array with one id-less activity", http.MethodPost, pushKey, []byte(`[{"id":"a"},{"x":1}]`), http.StatusBadRequest},
		{"a body over max_body", http.MethodPost, pushKey, big, http.StatusRequestEntityTooLarge},
		{"a GET", http.MethodGet, pushKey, nil, http.StatusMethodNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, p.url, bytes.NewReader(tc.body))
			if tc.key != "" {
				req.Header.Set("x-api-key", tc.key)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("got %d %s, want %d", resp.StatusCode, b, tc.want)
			}
			if strings.Contains(string(b), pushKey) {
				t.Errorf("the answer shows the key: %s", b)
			}
		})
	}
	if got := p.streamMsgs(t); got != before {
		t.Errorf("refused pushes published %d messages", got-before)
	}
	code, body := p.push(t, pushKey, []byte(`[{"id":"a1"},{"id":2}]`))
	if code != 200 || body != `{"ids":["a1","2"]}` {
		t.Errorf("an array: got %d %s", code, body)
	}
}

func TestDispatch_ABrokerDownAnswers503AndRetenRetryLandsTheActivity(t *testing.T) {
	p := newPushEnv(t, "")
	cycle(t, p.a)
	sub := p.subscribe()
	d := p.sim.StartDispatch(retensim.DispatchConfig{URL: strings.TrimSuffix(p.url, "/activities"), APIKey: pushKey, Every: 4 * time.Second, MaxAttempts: 3})
	t.Cleanup(d.Stop)

	p.nats.Stop()
	relaytest.WaitFor(t, 10*time.Second, "the sink to notice", func() bool { return !p.a.nats.Connected() })
	task := p.sim.AddTask(retensim.Task{Channel: "WHATSAPP", Status: "PENDING"})
	relaytest.WaitFor(t, 10*time.Second, "a refused push", func() bool {
		for _, o := range d.Outcomes() {
			if o.ID == task.ID && o.Attempts >= 1 {
				return true
			}
		}
		return false
	})
	if o := d.Outcomes()[0]; o.Status != http.StatusServiceUnavailable || o.Dispatched {
		t.Fatalf("with NATS down the push was answered %+v, want 503", o)
	}
	p.nats.Start()
	relaytest.WaitFor(t, 20*time.Second, "the retried push to land", func() bool {
		o := d.Outcomes()[0]
		if o.Failed {
			t.Fatalf("Reten gave up: %+v", o)
		}
		return o.Dispatched
	})
	relaytest.WaitFor(t, 10*time.Second, "the dispatched event", func() bool { return sub.count(schema.OpDispatched) == 1 })
	if ev := sub.snapshot()[0]; ev.Subject != task.ID {
		t.Errorf("dispatched event for %s, want %s", ev.Subject, task.ID)
	}
}

// startPushOnly runs a push-only relay (tasks.interval: off) against its own simulator and
// NATS; dispatched events go to reten.tasks.dispatched.{channel}.
func startPushOnly(tb testing.TB) (a *app, sim *retensim.Sim, natsURL string) {
	tb.Helper()
	sim = retensim.New(tb, retensim.WithTasks(5))
	nt := relaytest.StartNATS(tb)
	cfg, err := config.Load("push-only.yaml", fmt.Appendf(nil, `
reten: {url: %q, api_key: %q}
nats: {url: %q}
tasks:
  interval: "off"
  routes: [{name: pushed, sink: nats, subject: "reten.tasks.{op}.{channel}", when: {op: [dispatched]}}]
dispatch: {listen: "127.0.0.1:0", api_key: %q}
http: {listen: "127.0.0.1:0"}
log: {level: error}
`, sim.URL(), sim.APIKey(), nt.URL(), pushKey), nil)
	if err != nil {
		tb.Fatal(err)
	}
	a, err = build(context.Background(), cfg, zerolog.Nop(), appOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("run: %v", err)
		}
	})
	return a, sim, nt.URL()
}

func TestDispatch_APushOnlyRelayNeverPollsAndCountsPushesInMetrics(t *testing.T) {
	a, sim, _ := startPushOnly(t)
	if a.poller != nil {
		t.Fatal("interval off built a poller")
	}
	p := &pushEnv{url: "http://" + a.dispatchLn.Addr().String() + "/activities"}
	relaytest.WaitFor(t, 10*time.Second, "the receiver to accept a push", func() bool {
		code, _ := p.push(t, pushKey, activityJSON(7))
		return code == http.StatusOK
	})
	if code, _ := p.push(t, "wrong", activityJSON(8)); code != http.StatusUnauthorized {
		t.Errorf("wrong key: %d", code)
	}
	resp, err := http.Get("http://" + a.listener.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`reten_relay_dispatch_pushes_total{code="200"}`, `reten_relay_dispatch_pushes_total{code="401"} 1`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if n := sim.Requests(retensim.EndpointListTasks); n != 0 {
		t.Errorf("a push-only relay listed tasks %d times", n)
	}
}
