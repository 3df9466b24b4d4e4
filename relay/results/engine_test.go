package results_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/relay/results"
	"github.com/reten/reten-relay/schema"
)

// activityOf reads the activity id of a POSTed body.
func activityOf(body []byte) string {
	var m struct {
		ActivityID string `json:"activity_id"`
	}
	_ = json.Unmarshal(body, &m)
	return m.ActivityID
}

// inFlight tracks how many POSTs run at once.
type inFlight struct {
	now, peak atomic.Int64
}

func (f *inFlight) enter() {
	n := f.now.Add(1)
	for {
		p := f.peak.Load()
		if n <= p || f.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

func (f *inFlight) leave() { f.now.Add(-1) }

func TestPipeline_ActivitiesThatFailForeverCostTheOthersNothing(t *testing.T) {
	var good, bad atomic.Int64
	var conc inFlight
	sub := &fakeSubmitter{answer: func(_ int, body []byte) error {
		conc.enter()
		defer conc.leave()
		time.Sleep(time.Millisecond) // Reten takes a moment, so POSTs overlap
		if strings.HasPrefix(activityOf(body), "bad-") {
			bad.Add(1)
			return statusErr(503)
		}
		good.Add(1)
		return nil
	}}
	h := start(t, sub, func(c *results.Config) {
		c.Concurrency = 8
		c.Backoff = results.Backoff{Initial: 500 * time.Millisecond, Max: time.Minute, MaxElapsed: time.Hour}
	})
	var goodSeqs []uint64
	for i := range 2000 {
		if i%100 == 0 {
			h.src.put(resultFor(fmt.Sprintf("bad-%d", i/100)))
		}
		goodSeqs = append(goodSeqs, h.src.put(resultFor(fmt.Sprintf("good-%d", i))))
	}
	relaytest.WaitFor(t, wait, "every good result acked", func() bool {
		for _, s := range goodSeqs {
			if !h.src.get(s).acked {
				return false
			}
		}
		return true
	})
	// The good ones took no retry, and the failing ones took a small share of the POSTs:
	// the workers' time went to the good ones, at full concurrency.
	t.Logf("2000 good results: %d POSTs; 20 failing activities: %d POSTs; peak in flight %d", good.Load(), bad.Load(), conc.peak.Load())
	if good.Load() != 2000 {
		t.Errorf("%d POSTs of good results, want 2000", good.Load())
	}
	if bad.Load() > 200 {
		t.Errorf("%d POSTs of the 20 failing activities while 2000 good ones went through: they hold workers", bad.Load())
	}
	if conc.peak.Load() != 8 {
		t.Errorf("peak POSTs in flight %d, want 8", conc.peak.Load())
	}
}

func TestPipeline_ADeterministic500CostsTheOthersNothing(t *testing.T) {
	var others atomic.Int64 // counted here: calls() would count a poison POST still in flight
	sub := &fakeSubmitter{answer: func(_ int, body []byte) error {
		time.Sleep(200 * time.Microsecond)
		if activityOf(body) == "poison" {
			return statusErr(500)
		}
		others.Add(1)
		return nil
	}}
	h := start(t, sub, func(c *results.Config) { c.Backoff.Initial, c.Backoff.Max = 20*time.Millisecond, time.Second })
	bad := h.src.put(resultFor("poison"))
	var seqs []uint64
	for i := range 500 {
		seqs = append(seqs, h.src.put(resultFor(fmt.Sprintf("ok-%d", i))))
	}
	relaytest.WaitFor(t, wait, "the others acked", func() bool {
		for _, s := range seqs {
			if !h.src.get(s).acked {
				return false
			}
		}
		return true
	})
	if n := others.Load(); n != 500 {
		t.Fatalf("%d POSTs for 500 good results", n)
	}
	if st := h.src.get(bad); st.acked {
		t.Fatalf("the failing result was settled: %+v", st)
	}
}

func TestPipeline_ABufferedResultIsNotRedeliveredPastItsAckDeadline(t *testing.T) {
	sub := &fakeSubmitter{answer: func(int, []byte) error { time.Sleep(60 * time.Millisecond); return nil }}
	h := start(t, sub, func(c *results.Config) { c.Concurrency = 2 })
	h.src.ackWait = 300 * time.Millisecond
	var seqs []uint64
	for range 20 { // one activity: they wait behind each other for ~1.2s, four ack waits
		seqs = append(seqs, h.src.put(resultFor("busy")))
	}
	for i := range 10 {
		seqs = append(seqs, h.src.put(resultFor(fmt.Sprintf("other-%d", i))))
	}
	relaytest.WaitFor(t, wait, "all acked", h.src.allAcked)
	kept := 0
	for _, s := range seqs {
		st := h.src.get(s)
		if st.expired != 0 || st.deliveries != 1 || st.acks != 1 {
			t.Fatalf("message %d: %+v; want one delivery, acked once", s, st)
		}
		kept += st.inProgress
	}
	if sub.calls() != len(seqs) {
		t.Fatalf("%d POSTs for %d results", sub.calls(), len(seqs))
	}
	t.Logf("%d InProgress signals kept %d results alive", kept, len(seqs))
}

func TestPipeline_A429WithRetryAfterStopsEveryWorker(t *testing.T) {
	release, othersBusy := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var others atomic.Int64
	sub := &fakeSubmitter{answer: func(_ int, body []byte) error {
		if activityOf(body) == "a0" {
			<-othersBusy // every worker has a POST in flight when the 429 comes
			return &apiError{class: schema.ErrTransient, status: 429, retryAfter: time.Hour}
		}
		if others.Add(1) == 3 {
			close(othersBusy)
		}
		<-release
		return nil
	}}
	h := start(t, sub, func(c *results.Config) { c.Concurrency = 4 })
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	var seqs []uint64
	for i := range 20 {
		seqs = append(seqs, h.src.put(resultFor(fmt.Sprintf("a%d", i))))
	}
	relaytest.WaitFor(t, wait, "the 429'd message given back for its Retry-After", func() bool { return h.src.get(seqs[0]).retried })
	inFlight := sub.calls()
	once.Do(func() { close(release) })
	relaytest.WaitFor(t, wait, "the POSTs in flight acked", func() bool {
		acked := 0
		for _, s := range seqs {
			if h.src.get(s).acked {
				acked++
			}
		}
		return acked == inFlight-1
	})
	h.stop()
	if sub.calls() != inFlight {
		t.Fatalf("%d POSTs started after the 429 (Retry-After: 1h); want none", sub.calls()-inFlight)
	}
	if st := h.src.get(seqs[0]); st.delay < 5*time.Minute {
		t.Fatalf("given back with delay %s, want the capped Retry-After (5m)", st.delay)
	}
}

func TestPipeline_RetenDownFallsToOneProbeAndRecovers(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	var conc inFlight
	var mu sync.Mutex
	var whileDown []int64 // POSTs in flight at each POST start, while Reten is down
	sub := &fakeSubmitter{answer: func(int, []byte) error {
		conc.enter()
		defer conc.leave()
		if down.Load() {
			mu.Lock()
			whileDown = append(whileDown, conc.now.Load())
			mu.Unlock()
			time.Sleep(time.Millisecond)
			return statusErr(503)
		}
		time.Sleep(2 * time.Millisecond)
		return nil
	}}
	h := start(t, sub, func(c *results.Config) {
		c.Concurrency = 16
		c.Backoff = results.Backoff{Initial: 10 * time.Millisecond, Max: 40 * time.Millisecond, MaxElapsed: time.Hour}
	})
	for i := range 300 {
		h.src.put(resultFor(fmt.Sprintf("a%d", i)))
	}
	relaytest.WaitFor(t, wait, "Reten probed for a while", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(whileDown) >= 120
	})
	down.Store(false)
	mu.Lock()
	tail := whileDown[len(whileDown)-60:]
	mu.Unlock()
	for _, n := range tail {
		if n > 1 {
			t.Fatalf("POSTs in flight while Reten stays down: %v; want one probe at a time", tail)
		}
	}
	conc.peak.Store(0)
	relaytest.WaitFor(t, wait, "every result delivered after Reten is back", h.src.allAcked)
	if conc.peak.Load() < 8 {
		t.Fatalf("peak POSTs in flight after recovery %d: the limit did not grow back", conc.peak.Load())
	}
}

func TestPipeline_MaxElapsedCountsFromTheFirstPOSTNotFromWhenTheMessageWasStored(t *testing.T) {
	sub := &fakeSubmitter{answer: func(n int, _ []byte) error {
		if n == 1 {
			return statusErr(503)
		}
		return nil
	}}
	h := start(t, sub, func(c *results.Config) { c.Backoff.MaxElapsed = time.Minute })
	h.src.stored = time.Now().Add(-time.Hour) // a backlog from while the relay was down
	seq := h.src.put(validBody)
	relaytest.WaitFor(t, wait, "acked", func() bool { return h.src.get(seq).acked })
	if dls := h.sink.deadLetters(t); len(dls) != 0 || sub.calls() != 2 {
		t.Fatalf("dead letters %+v after %d POSTs; want the retry to succeed", dls, sub.calls())
	}
}

func TestPipeline_DeadLetterAttemptsCountEveryPOSTAcrossDeliveries(t *testing.T) {
	sub := &fakeSubmitter{answer: func(int, []byte) error { return statusErr(503) }}
	h := start(t, sub, func(c *results.Config) {
		c.LongWait = time.Millisecond // every wait goes back to the broker
		c.Backoff = results.Backoff{Initial: 5 * time.Millisecond, Max: 10 * time.Millisecond, MaxElapsed: 150 * time.Millisecond}
	})
	seq := h.src.put(validBody)
	relaytest.WaitFor(t, wait, "dead-lettered", func() bool { return h.src.get(seq).acked })
	st := h.src.get(seq)
	dls := h.sink.deadLetters(t)
	if len(dls) != 1 || dls[0].Reason != schema.ReasonRetriesExhausted {
		t.Fatalf("dead letters = %+v", dls)
	}
	if st.deliveries < 3 || dls[0].Attempts != sub.calls() || dls[0].Attempts < st.deliveries {
		t.Fatalf("attempts %d over %d deliveries, Reten saw %d POSTs", dls[0].Attempts, st.deliveries, sub.calls())
	}
	if !dls[0].LastAttemptAt.After(*dls[0].FirstAttemptAt) {
		t.Fatalf("attempt times %s .. %s", dls[0].FirstAttemptAt, dls[0].LastAttemptAt)
	}
}

func TestPipeline_AFailedAckIsRetried(t *testing.T) {
	sub := &fakeSubmitter{}
	h := start(t, sub, nil)
	h.src.failAcks = 3
	seq := h.src.put(validBody)
	relaytest.WaitFor(t, wait, "acked", func() bool { return h.src.get(seq).acked })
	if st := h.src.get(seq); st.deliveries != 1 || sub.calls() != 1 {
		t.Fatalf("%+v after %d POSTs; want one delivery, one POST", st, sub.calls())
	}
}

func TestPipeline_ResultsThatStopSettlingTurnTheHealthRedUntilTheyMoveAgain(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	sub := &fakeSubmitter{answer: func(int, []byte) error {
		if down.Load() {
			return statusErr(503)
		}
		return nil
	}}
	h := start(t, sub, func(c *results.Config) { c.StallAfter = 50 * time.Millisecond })
	relaytest.WaitFor(t, wait, "the result types loaded", h.health.Ready)
	h.src.put(resultFor("a1"))
	relaytest.WaitFor(t, wait, "/readyz red naming the stall", func() bool {
		st := h.health.Status()
		return !st.Ready && strings.Contains(fmt.Sprint(st), "no result settled")
	})
	down.Store(false)
	relaytest.WaitFor(t, wait, "the result delivered and the health green again", func() bool {
		return h.health.Ready() && h.src.allAcked()
	})
}
