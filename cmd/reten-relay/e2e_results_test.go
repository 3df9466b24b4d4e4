package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/segmentio/kafka-go"

	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/sources/reten/retensim"
)

// resultsConfig is the results section for a source; dlq is the dead-letter subject/topic.
func resultsConfig(source string) string {
	if source == "kafka" {
		return `
results:
  source: kafka
  topic: reten-results
  group: relay-e2e
  concurrency: 8
  dead_letter: reten-dlq
  backoff: {initial: 10ms, max: 200ms, max_elapsed: 10m}
  auth_probe_interval: 100ms
`
	}
	return `
results:
  source: nats
  subject: reten.results.>
  concurrency: 8
  ack_wait: 2s
  dead_letter: reten.dlq.results
  backoff: {initial: 10ms, max: 200ms, max_elapsed: 10m}
  auth_probe_interval: 100ms
`
}

// resultsE2E runs a relay with only the results pipeline against e's simulator.
type resultsE2E struct {
	*e2e
	source string
	kafka  *relaytest.Kafka
	app    *app
	nc     *nats.Conn
	js     jetstream.JetStream
	writer *kafka.Writer

	mu   sync.Mutex
	dead []schema.DeadLetter
}

func startResults(t *testing.T, source string, timeout string, opts ...retensim.Option) *resultsE2E {
	t.Helper()
	r := &resultsE2E{e2e: newE2E(t, opts...), source: source}
	extra := resultsConfig(source)
	if source == "kafka" {
		r.kafka = relaytest.StartKafka(t)
		extra += fmt.Sprintf("kafka: {brokers: [%q], create_topics: true, topic_partitions: 4}\n", r.kafka.Brokers()[0])
		r.writer = &kafka.Writer{Addr: kafka.TCP(r.kafka.Brokers()...), Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll,
			BatchTimeout: 5 * time.Millisecond, AllowAutoTopicCreation: true}
		t.Cleanup(func() { _ = r.writer.Close() })
	}
	// Only the results pipeline: a config without tasks.
	cfgYAML := strings.Replace(r.configYAML(extra), "tasks:", "unused_tasks:", 1)
	cfgYAML = cutSection(cfgYAML, "unused_tasks:")
	cfgYAML = strings.Replace(cfgYAML, "timeout: 2s", "timeout: "+timeout, 1)
	r.app = r.buildFrom(cfgYAML)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.app.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("relay stopped with %v", err)
		}
	})
	r.subscribeDeadLetters(t)
	return r
}

// cutSection removes a top-level YAML section.
func cutSection(doc, header string) string {
	var out []string
	skipping := false
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, header) {
			skipping = true
			continue
		}
		if skipping && (strings.HasPrefix(line, " ") || line == "") {
			continue
		}
		skipping = false
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

func (r *resultsE2E) buildFrom(yaml string) *app {
	r.t.Helper()
	p := r.dir + "/results.yaml"
	if err := writeBytes(p, []byte(yaml)); err != nil {
		r.t.Fatal(err)
	}
	cfg, code := loadConfig(p, io.Discard, noEnv)
	if cfg == nil {
		r.t.Fatalf("config (exit %d):\n%s", code, yaml)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := build(ctx, cfg, testLogger(r.t), appOptions{})
	if err != nil {
		r.t.Fatal(err)
	}
	return a
}

func (r *resultsE2E) subscribeDeadLetters(t *testing.T) {
	// record keeps a dead letter; headers are the broker's, which name the reason as the
	// broker's convention says: Dlq-Reason on NATS, dlq_reason on Kafka, never both.
	record := func(body []byte, headers map[string]string) {
		var dl schema.DeadLetter
		if err := json.Unmarshal(body, &dl); err != nil {
			t.Errorf("undecodable dead letter: %v", err)
			return
		}
		want, other := "Dlq-Reason", "dlq_reason"
		if r.source == "kafka" {
			want, other = other, want
		}
		if headers[want] != dl.Reason || headers[other] != "" {
			t.Errorf("dead letter of reason %s has headers %v, want %s only", dl.Reason, headers, want)
		}
		r.mu.Lock()
		r.dead = append(r.dead, dl)
		r.mu.Unlock()
	}
	if r.source == "kafka" {
		rd := kafka.NewReader(kafka.ReaderConfig{Brokers: r.kafka.Brokers(), Topic: "reten-dlq", GroupID: "dlq-watch", StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			for {
				m, err := rd.ReadMessage(ctx)
				if err != nil {
					return
				}
				h := map[string]string{}
				for _, x := range m.Headers {
					h[x.Key] = string(x.Value)
				}
				record(m.Value, h)
			}
		}()
		t.Cleanup(func() { cancel(); _ = rd.Close() })
		return
	}
	nc, err := nats.Connect(r.nats.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	r.nc = nc
	r.js, _ = jetstream.New(nc)
	if _, err := nc.Subscribe("reten.dlq.results", func(m *nats.Msg) {
		h := map[string]string{}
		for k := range m.Header {
			h[k] = m.Header.Get(k)
		}
		record(m.Data, h)
	}); err != nil {
		t.Fatal(err)
	}
	_ = nc.Flush()
}

func (r *resultsE2E) deadLetters() []schema.DeadLetter {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]schema.DeadLetter(nil), r.dead...)
}

// produce puts result messages on the input, keyed by activity.
func (r *resultsE2E) produce(t *testing.T, bodies ...[]byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	if r.source == "kafka" {
		msgs := make([]kafka.Message, len(bodies))
		for i, b := range bodies {
			msgs[i] = kafka.Message{Topic: "reten-results", Key: []byte(fmt.Sprint(i % 97)), Value: b}
		}
		if err := r.writer.WriteMessages(ctx, msgs...); err != nil {
			t.Fatal(err)
		}
		return
	}
	var acks []jetstream.PubAckFuture
	for _, b := range bodies {
		f, err := r.js.PublishAsync("reten.results.e2e", b)
		if err != nil {
			t.Fatal(err)
		}
		acks = append(acks, f)
	}
	for _, f := range acks {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			t.Fatalf("publishing a result: %v", err)
		case <-ctx.Done():
			t.Fatal("publishing results timed out")
		}
	}
}

func resultBody(task retensim.Task) []byte {
	b, _ := json.Marshal(map[string]any{
		"activity_id": task.ID, "commerce_external_id": task.CommerceExternalID, "occurred_at": "2026-04-11T10:30:00.000Z",
		"status": "EFFECTIVE", "task_result": map[string]any{"result": "SALE_COMPLETED", "contact_type": "OUTBOUND"},
	})
	return b
}

// delivered reports whether every task has a result in the simulator.
func delivered(sim *retensim.Sim, tasks []retensim.Task) bool {
	got := map[string]bool{}
	for _, r := range sim.Results() {
		got[r.TaskID] = true
	}
	for _, task := range tasks {
		if !got[task.ID] {
			return false
		}
	}
	return true
}

func TestE2E_Results_EveryResultArrivesThroughA30PercentFailureRate(t *testing.T) {
	for _, source := range []string{"nats", "kafka"} {
		t.Run(source, func(t *testing.T) {
			r := startResults(t, source, "300ms", retensim.WithTasks(2000), retensim.WithSeed(3))
			r.sim.Script(retensim.EndpointSubmit, retensim.Fault429("1"), retensim.Fault429(time.Now().Add(time.Second).UTC().Format(http.TimeFormat)))
			r.sim.SetFailureRate(retensim.EndpointSubmit, 0.3,
				retensim.FaultStatus(503), retensim.FaultStatus(502), retensim.FaultDrop, retensim.FaultHang(400*time.Millisecond))
			tasks := r.sim.Tasks()
			bodies := make([][]byte, len(tasks))
			for i, task := range tasks {
				bodies[i] = resultBody(task)
			}
			r.produce(t, bodies...)
			relaytest.WaitFor(t, 3*time.Minute, "every result accepted by Reten", func() bool { return delivered(r.sim, tasks) })
			if dls := r.deadLetters(); len(dls) != 0 {
				t.Fatalf("%d dead letters, first: %+v", len(dls), dls[0])
			}
			requests := r.sim.Requests(retensim.EndpointSubmit)
			t.Logf("%s: 2000 results, %d POSTs, %d accepted, %d duplicates answered 409",
				source, requests, len(r.sim.Results()), r.sim.Responses(retensim.EndpointSubmit, 409))
			if len(r.sim.Results()) != 2000 {
				t.Fatalf("the simulator recorded %d results, want exactly 2000", len(r.sim.Results()))
			}
		})
	}
}

func TestE2E_Results_BrokenMessagesAreDeadLetteredAndTheRestDelivered(t *testing.T) {
	for _, source := range []string{"nats", "kafka"} {
		t.Run(source, func(t *testing.T) {
			r := startResults(t, source, "2s", retensim.WithTasks(30))
			tasks := r.sim.Tasks()
			valid := string(resultBody(tasks[0]))
			swap := func(old, new string) []byte { return []byte(strings.Replace(valid, old, new, 1)) }
			broken := map[string][]byte{
				"broken JSON":          []byte(`{"activity_id":`),
				"empty":                []byte(``),
				"binary":               {0x00, 0xff, 0xfe, 0x80},
				"array":                []byte(`[1,2,3]`),
				"null":                 []byte(`null`),
				"number":               []byte(`42`),
				"huge":                 []byte(`{"x":"` + strings.Repeat("a", 300<<10) + `"}`),
				"no ids":               swap(`"activity_id":"`+tasks[0].ID+`",`, ``),
				"no commerce":          swap(`"commerce_external_id":"`+tasks[0].CommerceExternalID+`",`, ``),
				"no occurred_at":       swap(`"occurred_at":"2026-04-11T10:30:00.000Z",`, ``),
				"bad occurred_at":      swap(`2026-04-11T10:30:00.000Z`, `11/04/2026`),
				"no status":            swap(`"status":"EFFECTIVE",`, ``),
				"bad status":           swap(`"EFFECTIVE"`, `"DONE"`),
				"status number":        swap(`"EFFECTIVE"`, `7`),
				"no task_result":       swap(`,"task_result":{"contact_type":"OUTBOUND","result":"SALE_COMPLETED"}`, ``),
				"task_result string":   swap(`{"contact_type":"OUTBOUND","result":"SALE_COMPLETED"}`, `"SALE"`),
				"no result code":       swap(`"result":"SALE_COMPLETED"`, `"comment":"x"`),
				"bad contact type":     swap(`"OUTBOUND"`, `"PIGEON"`),
				"unknown result type":  swap(`SALE_COMPLETED`, `TELEPORTED`),
				"reschedule no date":   swap(`SALE_COMPLETED`, `RESCHEDULE`),
				"reschedule past date": swap(`"result":"SALE_COMPLETED"`, `"result":"RESCHEDULE","future_scheduled_at":"2020-01-01T00:00:00Z"`),
				"unknown activity":     swap(tasks[0].ID, "no-such-activity"),
			}
			var mixed [][]byte
			for _, b := range broken {
				mixed = append(mixed, b)
			}
			for _, task := range tasks[1:] {
				mixed = append(mixed, resultBody(task))
			}
			r.produce(t, mixed...)
			relaytest.WaitFor(t, e2eWait, "every valid result delivered", func() bool { return delivered(r.sim, tasks[1:]) })
			relaytest.WaitFor(t, e2eWait, "every broken message dead-lettered", func() bool { return len(r.deadLetters()) == len(broken) })
			reasons := map[string]int{}
			for _, dl := range r.deadLetters() {
				reasons[dl.Reason]++
				if dl.Error == "" {
					t.Errorf("dead letter without an error: %+v", dl)
				}
			}
			readyz := "http://" + r.app.listener.Addr().String() + "/readyz"
			relaytest.WaitFor(t, e2eWait, "/readyz to report the broker", func() bool {
				code, body := get(readyz)
				return code == 200 && strings.Contains(body, `"`+source+`":{"ready":true`)
			})
			want := map[string]int{schema.ReasonUnknownResultType: 1, schema.ReasonRejected: 1, schema.ReasonInvalidMessage: len(broken) - 2}
			if fmt.Sprint(reasons) != fmt.Sprint(want) {
				t.Fatalf("dead-letter reasons = %v, want %v", reasons, want)
			}
		})
	}
}

func TestE2E_Results_AuthFailuresPauseAndResume(t *testing.T) {
	cases := []struct {
		name    string
		break_  func(sim *retensim.Sim)
		restore func(sim *retensim.Sim)
		reason  string
	}{
		{"401: the key is revoked", func(s *retensim.Sim) { s.RevokeKey(s.APIKey()) }, func(s *retensim.Sim) { s.RestoreKey(s.APIKey()) }, "(401)"},
		{"403: SUBMIT_ACTIVITY_RESULT is missing", func(s *retensim.Sim) { s.SetPermissions(s.APIKey(), "VIEW_ACTIVITIES") },
			func(s *retensim.Sim) { s.SetPermissions(s.APIKey(), "VIEW_ACTIVITIES", "SUBMIT_ACTIVITY_RESULT") }, "missing permission SUBMIT_ACTIVITY_RESULT"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := startResults(t, "nats", "2s", retensim.WithTasks(20))
			readyz := "http://" + r.app.listener.Addr().String() + "/readyz"
			relaytest.WaitFor(t, e2eWait, "ready", func() bool { code, _ := get(readyz); return code == 200 })
			c.break_(r.sim)
			tasks := r.sim.Tasks()
			var bodies [][]byte
			for _, task := range tasks {
				bodies = append(bodies, resultBody(task))
			}
			r.produce(t, bodies...)
			relaytest.WaitFor(t, e2eWait, "/readyz red naming the problem", func() bool {
				code, body := get(readyz)
				return code == 503 && strings.Contains(body, "results.submitter") && strings.Contains(body, c.reason)
			})
			probes := r.sim.Requests(retensim.EndpointSubmit)
			if len(r.deadLetters()) != 0 || len(r.sim.Results()) != 0 {
				t.Fatalf("during the auth failure: %d dead letters, %d results", len(r.deadLetters()), len(r.sim.Results()))
			}
			c.restore(r.sim)
			relaytest.WaitFor(t, e2eWait, "every result delivered after the key works again", func() bool { return delivered(r.sim, tasks) })
			relaytest.WaitFor(t, e2eWait, "/readyz green", func() bool { code, _ := get(readyz); return code == 200 })
			if len(r.deadLetters()) != 0 {
				t.Fatalf("%d dead letters", len(r.deadLetters()))
			}
			t.Logf("%d requests while the key was rejected (slow probing, no storm)", probes)
		})
	}
}

func get(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// peakRSS is this process's peak resident set size in MiB (VmHWM), or 0 when unknown.
func peakRSS() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.Atoi(f[1])
			return kb / 1024
		}
	}
	return 0
}

func TestE2E_Results_OversizedResultsAreDeadLetteredTrimmedAndTheRestDelivered(t *testing.T) {
	const size = 1_048_376 // just under NATS's default max_payload of 1 MiB
	big := 300
	if raceDetector {
		big = 30 // 300 MB through an instrumented NATS server takes minutes; run without -race for all 300
	}
	r := startResults(t, "nats", "2s", retensim.WithTasks(20))
	tasks := r.sim.Tasks()
	pad := func(i int) []byte {
		head := fmt.Sprintf(`{"activity_id":"big-%03d","commerce_external_id":"C","occurred_at":"2026-04-11T10:30:00Z","status":"EFFECTIVE","task_result":{"result":"SALE_COMPLETED","comment":"`, i)
		tail := `"}}`
		return []byte(head + strings.Repeat("x", size-len(head)-len(tail)) + tail)
	}
	for i := range big { // one at a time: 300 MB is more than a publish burst should hold
		r.produce(t, pad(i))
	}
	var valid [][]byte
	for _, task := range tasks {
		valid = append(valid, resultBody(task))
	}
	r.produce(t, valid...)
	relaytest.WaitFor(t, 2*time.Minute, "every valid result delivered", func() bool { return delivered(r.sim, tasks) })
	relaytest.WaitFor(t, 2*time.Minute, "every oversized result dead-lettered", func() bool { return len(r.deadLetters()) == big })
	for _, dl := range r.deadLetters() {
		if dl.Reason != schema.ReasonInvalidMessage || !dl.MessageTruncated || dl.MessageBytes != size || len(dl.Message) == 0 {
			t.Fatalf("dead letter reason %q truncated %v bytes %d", dl.Reason, dl.MessageTruncated, dl.MessageBytes)
		}
		if _, err := dl.Original(); !errors.Is(err, schema.ErrTruncatedOriginal) {
			t.Fatalf("Original() of a truncated dead letter = %v", err)
		}
	}
	ci, err := r.js.Consumer(context.Background(), "RETEN_RESULTS", "reten-relay")
	if err != nil {
		t.Fatal(err)
	}
	relaytest.WaitFor(t, e2eWait, "nothing left unacked", func() bool {
		info, err := ci.Info(context.Background())
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0
	})
	t.Logf("%d results of %d bytes dead-lettered (trimmed), %d valid delivered; peak RSS of the test process (NATS, simulator and relay): %d MiB",
		big, size, len(tasks), peakRSS())
}

func TestE2E_Results_ResultsWaitingBehindTheirActivityAreNotRedeliveredPastTheAckWait(t *testing.T) {
	r := startResults(t, "nats", "2s", retensim.WithTasks(1))
	r.sim.SetLatency(600 * time.Millisecond)
	task := r.sim.Tasks()[0]
	const n = 10 // one activity: the last waits ~6s, three times the ack wait of 2s
	var bodies [][]byte
	for range n {
		bodies = append(bodies, resultBody(task))
	}
	r.produce(t, bodies...)
	ci, err := r.js.Consumer(context.Background(), "RETEN_RESULTS", "reten-relay")
	if err != nil {
		t.Fatal(err)
	}
	relaytest.WaitFor(t, e2eWait, "every result settled", func() bool {
		info, err := ci.Info(context.Background())
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0
	})
	// The consumer's delivery sequence counts every delivery, redeliveries included.
	info, _ := ci.Info(context.Background())
	if info.Delivered.Consumer != n || r.sim.Requests(retensim.EndpointSubmit) != n {
		t.Fatalf("%d deliveries, %d POSTs for %d results; want one of each per result",
			info.Delivered.Consumer, r.sim.Requests(retensim.EndpointSubmit), n)
	}
}
