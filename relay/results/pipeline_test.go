package results_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/relay/results"
	"github.com/reten/reten-relay/schema"
)

const wait = 10 * time.Second

func resultFor(activity string) string {
	return strings.Replace(validBody, `"a1"`, `"`+activity+`"`, 1)
}

func TestPipeline_SettlesEachAnswerByItsClass(t *testing.T) {
	cases := []struct {
		name       string
		answers    []int // status per call; 0 = success
		onConflict string
		acked      bool
		reason     string // dead letter reason, "" for none
		calls      int
	}{
		{"2xx is acked", []int{0}, "", true, "", 1},
		{"409 is acked as already recorded", []int{409}, "", true, "", 1},
		{"409 is a conflict dead letter when configured", []int{409}, results.OnConflictDeadLetter, true, schema.ReasonConflict, 1},
		{"400 is dead-lettered as rejected", []int{400}, "", true, schema.ReasonRejected, 1},
		{"404 is dead-lettered as rejected", []int{404}, "", true, schema.ReasonRejected, 1},
		{"503 then 2xx is retried and acked", []int{503, 503, 0}, "", true, "", 3},
		{"a transient failure then 409 ends as already recorded", []int{502, 409}, "", true, "", 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sub := &fakeSubmitter{answer: func(n int, _ []byte) error {
				if n > len(c.answers) || c.answers[n-1] == 0 {
					return nil
				}
				return statusErr(c.answers[n-1])
			}}
			h := start(t, sub, func(cfg *results.Config) { cfg.OnConflict = c.onConflict })
			seq := h.src.put(validBody)
			relaytest.WaitFor(t, wait, "the message to be acked", func() bool { return h.src.get(seq).acked })
			h.stop()
			if got := sub.calls(); got != c.calls {
				t.Errorf("calls = %d, want %d", got, c.calls)
			}
			dls := h.sink.deadLetters(t)
			if c.reason == "" && len(dls) != 0 {
				t.Fatalf("unexpected dead letters %+v", dls)
			}
			if c.reason != "" {
				if len(dls) != 1 || dls[0].Reason != c.reason || dls[0].HTTPStatus != c.answers[len(c.answers)-1] {
					t.Fatalf("dead letters = %+v, want one %s", dls, c.reason)
				}
				if dls[0].Source.Sequence != seq || dls[0].Headers["h"] != "v" || string(dls[0].Message) != validBody {
					t.Errorf("dead letter lost the original: %+v", dls[0])
				}
			}
		})
	}
}

func TestPipeline_InvalidMessagesAreDeadLetteredWithoutCallingReten(t *testing.T) {
	sub := &fakeSubmitter{}
	h := start(t, sub, nil)
	bad := h.src.put(`{"activity_id":`)
	unknown := h.src.put(strings.Replace(validBody, "SALE_COMPLETED", "TELEPORTED", 1))
	good := h.src.put(resultFor("a2"))
	relaytest.WaitFor(t, wait, "all three settled", func() bool {
		return h.src.get(bad).acked && h.src.get(unknown).acked && h.src.get(good).acked
	})
	h.stop()
	if sub.calls() != 1 {
		t.Fatalf("Reten got %d calls, want 1 (only the valid message)", sub.calls())
	}
	reasons := map[string]bool{}
	for _, dl := range h.sink.deadLetters(t) {
		reasons[dl.Reason] = true
	}
	if !reasons[schema.ReasonInvalidMessage] || !reasons[schema.ReasonUnknownResultType] || len(reasons) != 2 {
		t.Fatalf("dead letter reasons = %v", reasons)
	}
}

func TestPipeline_InvalidMessagesAmongManyNeverReachReten(t *testing.T) {
	sub := &fakeSubmitter{answer: func(int, []byte) error { time.Sleep(100 * time.Microsecond); return nil }}
	h := start(t, sub, func(c *results.Config) { c.Concurrency = 8 })
	for i := range 100 {
		if i%2 == 0 {
			h.src.put(`{"activity_id":`)
		} else {
			h.src.put(resultFor(fmt.Sprintf("a%d", i)))
		}
	}
	relaytest.WaitFor(t, wait, "all settled", h.src.allAcked)
	if sub.calls() != 50 || len(h.sink.deadLetters(t)) != 50 {
		t.Fatalf("%d POSTs and %d dead letters; want 50 of each", sub.calls(), len(h.sink.deadLetters(t)))
	}
}

func TestPipeline_AuthFailurePausesEverythingUntilTheKeyWorks(t *testing.T) {
	var mu sync.Mutex
	keyOK := false
	sub := &fakeSubmitter{answer: func(int, []byte) error {
		mu.Lock()
		defer mu.Unlock()
		if !keyOK {
			return statusErr(403)
		}
		return nil
	}}
	h := start(t, sub, nil)
	var seqs []uint64
	for i := range 5 {
		seqs = append(seqs, h.src.put(resultFor(fmt.Sprintf("a%d", i))))
	}
	relaytest.WaitFor(t, wait, "readiness to name the missing permission", func() bool {
		s := h.health.Status().Components[results.HealthComponent]
		return !s.Ready && strings.Contains(s.Reason, "missing permission SUBMIT_ACTIVITY_RESULT")
	})
	relaytest.WaitFor(t, wait, "a few probes", func() bool { return sub.calls() >= 4 })
	for _, seq := range seqs {
		if st := h.src.get(seq); st.acked || st.retried {
			t.Fatalf("message %d was settled while the key was rejected: %+v", seq, st)
		}
	}
	if n := len(h.sink.deadLetters(t)); n != 0 {
		t.Fatalf("%d dead letters during an auth failure", n)
	}
	callsWhilePaused := sub.calls()
	mu.Lock()
	keyOK = true
	mu.Unlock()
	relaytest.WaitFor(t, wait, "every message acked after the key works", func() bool {
		for _, seq := range seqs {
			if !h.src.get(seq).acked {
				return false
			}
		}
		return true
	})
	if !h.health.Ready() {
		t.Fatalf("still not ready: %+v", h.health.Status())
	}
	// Probing is one request at a time, not one per worker per message.
	if callsWhilePaused > 40 {
		t.Errorf("%d calls while paused: a retry storm", callsWhilePaused)
	}
}

func TestPipeline_GivesUpAfterMaxElapsed(t *testing.T) {
	sub := &fakeSubmitter{answer: func(int, []byte) error { return statusErr(503) }}
	h := start(t, sub, func(c *results.Config) { c.Backoff.MaxElapsed = 30 * time.Millisecond })
	seq := h.src.put(validBody)
	relaytest.WaitFor(t, wait, "a retries_exhausted dead letter", func() bool { return h.src.get(seq).acked })
	h.stop()
	dls := h.sink.deadLetters(t)
	if len(dls) != 1 || dls[0].Reason != schema.ReasonRetriesExhausted || dls[0].Attempts < 2 || dls[0].FirstAttemptAt == nil {
		t.Fatalf("dead letters = %+v", dls)
	}
}

func TestPipeline_LongRetryAfterGoesBackToTheBroker(t *testing.T) {
	sub := &fakeSubmitter{answer: func(int, []byte) error {
		return &apiError{class: schema.ErrTransient, status: 429, retryAfter: 30 * time.Second}
	}}
	h := start(t, sub, nil)
	seq := h.src.put(validBody)
	relaytest.WaitFor(t, wait, "the message to be given back", func() bool { return h.src.get(seq).retried })
	if st := h.src.get(seq); st.acked || st.delay < 30*time.Second {
		t.Fatalf("settlement = %+v, want a retry after at least Retry-After", st)
	}
}

func TestPipeline_DeadLetterPublishFailureIsRetriedAndNeverAcksBeforeItWorks(t *testing.T) {
	h := start(t, &fakeSubmitter{}, nil)
	h.sink.mu.Lock()
	h.sink.failing = true
	h.sink.mu.Unlock()
	seq := h.src.put(`not json`)
	relaytest.WaitFor(t, wait, "a few tries to publish the dead letter", func() bool {
		h.sink.mu.Lock()
		defer h.sink.mu.Unlock()
		return h.sink.attempts >= 3
	})
	if st := h.src.get(seq); st.acked || st.retried {
		t.Fatalf("settled although the dead letter was not published: %+v", st)
	}
	h.sink.mu.Lock()
	h.sink.failing = false
	h.sink.mu.Unlock()
	relaytest.WaitFor(t, wait, "the message acked once its dead letter is published", func() bool { return h.src.get(seq).acked })
	if dls := h.sink.deadLetters(t); len(dls) != 1 || dls[0].Reason != schema.ReasonInvalidMessage {
		t.Fatalf("dead letters = %+v", dls)
	}
}

func TestPipeline_ResultsOfOneActivityArePostedInPublishOrderUnderFaults(t *testing.T) {
	for _, mode := range []sourceMode{receiving, pushing} {
		t.Run(string(mode), func(t *testing.T) { testPostOrderUnderFaults(t, mode) })
	}
}

func testPostOrderUnderFaults(t *testing.T, mode sourceMode) {
	const activities, perActivity = 100, 5
	var mu sync.Mutex
	posts := map[string][]int{} // activity → result index of every POST, in POST order
	rng := rand.New(rand.NewPCG(1, 2))
	sub := &fakeSubmitter{answer: func(_ int, body []byte) error {
		var m struct {
			ActivityID string `json:"activity_id"`
			External   string `json:"external_status"`
		}
		_ = json.Unmarshal(body, &m)
		n, _ := strconv.Atoi(m.External)
		mu.Lock()
		posts[m.ActivityID] = append(posts[m.ActivityID], n)
		roll, pause := rng.Float64(), time.Duration(rng.IntN(300))*time.Microsecond
		mu.Unlock()
		time.Sleep(pause) // POSTs overlap, so an engine that lets a key run twice reorders
		switch {
		case roll < 0.15:
			return statusErr(503)
		case roll < 0.2:
			return &apiError{class: schema.ErrTransient, status: 429, retryAfter: time.Millisecond}
		case roll < 0.25:
			return statusErr(409) // a retry after a lost answer
		}
		return nil
	}}
	h := startWith(t, mode, sub, func(c *results.Config) { c.Concurrency = 16 })
	for i := range perActivity {
		for a := range activities {
			body := strings.Replace(resultFor(fmt.Sprintf("act-%d", a)), `"status"`, fmt.Sprintf(`"external_status":"%d","status"`, i), 1)
			h.src.put(body)
		}
	}
	relaytest.WaitFor(t, wait, "all acked", h.src.allAcked)
	mu.Lock()
	defer mu.Unlock()
	for a, got := range posts {
		prev := -1
		for _, n := range got {
			if n != prev && n != prev+1 { // a retry repeats a result, the next one follows it
				t.Fatalf("%s: POSTs in order %v, want each result after the one before it", a, got)
			}
			prev = n
		}
		if prev != perActivity-1 {
			t.Fatalf("%s: POSTs %v never reached the last result", a, got)
		}
	}
}

func TestPipeline_ShutdownGivesBackWhatItDidNotFinish(t *testing.T) {
	for _, mode := range []sourceMode{receiving, pushing} {
		t.Run(string(mode), func(t *testing.T) { testShutdownGivesBack(t, mode) })
	}
}

func testShutdownGivesBack(t *testing.T, mode sourceMode) {
	block := make(chan struct{})
	sub := &fakeSubmitter{answer: func(n int, _ []byte) error {
		if n == 1 {
			<-block
		}
		return nil
	}}
	h := startWith(t, mode, sub, func(c *results.Config) { c.Concurrency = 1 })
	first := h.src.put(resultFor("a"))
	later := []uint64{h.src.put(resultFor("a")), h.src.put(resultFor("b")), h.src.put(resultFor("c"))}
	relaytest.WaitFor(t, wait, "the first POST in flight", func() bool { return sub.calls() == 1 })
	relaytest.WaitFor(t, wait, "the others received", func() bool { return len(h.src.ch) == 0 })
	h.cancel() // shut down while the POST is in flight, then let it finish
	close(block)
	<-h.done
	if st := h.src.get(first); !st.acked || st.acks != 1 || st.retried {
		t.Errorf("the in-flight POST finished but its message was not acked once: %+v", st)
	}
	for _, seq := range later {
		st := h.src.get(seq)
		if st.acked || !st.retried || st.delay != 0 {
			t.Errorf("message %d was not given back at once for redelivery: %+v", seq, st)
		}
	}
	relaytest.WaitFor(t, wait, "the broker to deliver them again", func() bool { return len(h.src.ch) == len(later) })
	if sub.calls() != 1 {
		t.Errorf("%d POSTs, want only the one in flight", sub.calls())
	}
}
