package results

import (
	"context"
	"fmt"
	"time"

	"github.com/reten/reten-relay/schema"
)

// item is one message the engine holds, with its delivery history.
type item struct {
	m          schema.Received
	key        string
	msg        *schema.ResultMessage
	rej        *Rejection // hopeless before any POST
	revalidate bool       // unknown result type: re-read the types, then decide
	received   time.Time
	touched    time.Time // last InProgress (or receipt)

	attempts int       // POSTs, across deliveries this process saw
	failures int       // transient failures in a row: the backoff step
	first    time.Time // first POST
	last     time.Time // last POST
	status   int
	response string

	seq  uint64    // dispatch number, for the limiter
	due  time.Time // when parked: when to go on
	heap int       // index in the park heap, -1 when not parked
	dl   *dlJob    // being dead-lettered
	dead bool      // the dead letter is published: only the ack is left
}

// dlJob is a dead letter waiting to be published.
type dlJob struct {
	reason, errText string
	fails           int
}

// history is what the engine remembers of a message it gave back to the broker, so the
// next delivery continues its backoff and counts its attempts.
type history struct {
	attempts, failures int
	first, last        time.Time
	until              time.Time // when the redelivery is due; forgotten well after
}

// keyState is an ordering key (activity) with work: the message being handled and the
// ones waiting behind it. It exists only while the key has work.
type keyState struct {
	head  *item   // being handled (ready, in flight, parked or dead-lettering); nil while at the broker
	queue []*item // later messages, in order
	// While the head waits at the broker: which message, and until when at the latest.
	atBroker      schema.Origin
	atBrokerUntil time.Time
}

// posted is what a worker reports after a POST (or after a validation that failed).
type posted struct {
	it         *item
	msg        *schema.ResultMessage
	rej        *Rejection
	status     int
	err        error
	start, end time.Time
}

// settledItem is what a settle goroutine reports.
type settledItem struct {
	it      *item
	dlErr   error // publishing the dead letter failed: retry it later
	release bool  // the key may move on
}

// engine is the delivery engine: run owns every field below except the channels' far ends.
type engine struct {
	p          *Pipeline
	stop, work context.Context

	room     chan struct{}
	in       chan *item
	dispatch chan *item
	results  chan posted
	settled  chan settledItem

	keys       map[string]*keyState
	ready      []*item // heads whose key may POST now, oldest first
	retryReady []*item // the same for retries, which go first
	parked     parkHeap
	byOrigin   map[schema.Origin]*item
	history    map[schema.Origin]history

	held, heldBytes int
	granted         int // room tokens given to the receiver and not yet back with a message
	inflight        int // POSTs
	settling        int // settle goroutines
	receiving       bool
	draining        bool
	seq             uint64

	lim        limiter
	gateUntil  time.Time // 429 Retry-After, or the pace of probes while Reten is down
	authPaused bool
	authProbe  time.Time

	keepAlive time.Duration // how often held messages are checked for InProgress
	tick      *time.Ticker

	// lastSettled and lastReceived tell a stall: results arriving while none settles.
	lastSettled, lastReceived time.Time
	stalled                   bool
}

func newEngine(p *Pipeline, stop, work context.Context) *engine {
	return &engine{
		p: p, stop: stop, work: work,
		room: make(chan struct{}, roomBatch), in: make(chan *item), dispatch: make(chan *item),
		results: make(chan posted, p.cfg.Concurrency), settled: make(chan settledItem, 64),
		keys: map[string]*keyState{}, byOrigin: map[schema.Origin]*item{}, history: map[schema.Origin]history{},
		receiving: true, lim: newLimiter(p.cfg.Concurrency), keepAlive: time.Second,
	}
}

// run is the event loop. It returns after shutdown, when nothing is in flight or
// being settled and everything else was given back.
func (e *engine) run() {
	go e.p.receive(e.stop, e.room, e.in)
	for range e.p.cfg.Concurrency {
		go e.worker()
	}
	defer close(e.dispatch)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var timerAt time.Time
	e.tick = time.NewTicker(e.keepAlive)
	defer e.tick.Stop()
	e.lastSettled = e.p.cfg.Now()
	stopped := e.stop.Done()
	for {
		if e.draining && !e.receiving && e.inflight == 0 && e.settling == 0 {
			return
		}
		e.dispatchHopeless()
		e.grantRoom()
		var out chan *item
		var next *item
		if it := e.nextToPost(); it != nil {
			out, next = e.dispatch, it
		}
		if at := e.wakeAt(); !at.IsZero() && !at.Equal(timerAt) {
			timer.Reset(max(time.Until(at), time.Millisecond))
			timerAt = at
		}
		select {
		case it, ok := <-e.in:
			if !ok {
				e.receiving, e.in = false, nil
				continue
			}
			e.granted--
			if it != nil {
				e.add(it)
			}
		case out <- next:
			e.posting(next)
			e.dispatchMore()
		case r := <-e.results:
			e.onPosted(r)
		case s := <-e.settled:
			e.onSettled(s)
		case <-timer.C:
			timerAt = time.Time{}
			e.wake()
		case <-e.tick.C:
			e.checkStall()
			if d := e.keepAliveHeld(); d != e.keepAlive {
				e.keepAlive = d
				e.tick.Reset(d)
			}
		case <-stopped:
			stopped = nil
			e.drain()
		}
	}
}

// roomBatch is how many receive tokens the loop grants ahead, so the receiver rarely waits
// for a turn of the loop.
const roomBatch = 16

// grantRoom keeps the receiver's tokens topped up while there is room, and takes back the
// unused ones when there is none (auth pause, byte cap, shutdown).
func (e *engine) grantRoom() {
	open := e.receiving && !e.draining && !e.authPaused && e.heldBytes < e.p.cfg.MaxBufferedBytes
	for open && e.held+e.granted < e.p.cfg.MaxBuffered && len(e.room) < cap(e.room) {
		e.room <- struct{}{}
		e.granted++
	}
	for !open && len(e.room) > 0 {
		select {
		case <-e.room:
			e.granted--
		default:
		}
	}
}

// dispatchMore hands further messages to idle workers without another turn of the loop.
func (e *engine) dispatchMore() {
	for e.dispatchHopeless(); ; e.dispatchHopeless() {
		it := e.nextToPost()
		if it == nil {
			return
		}
		select {
		case e.dispatch <- it:
			e.posting(it)
		default:
			return
		}
	}
}

// worker POSTs what the loop hands it.
func (e *engine) worker() {
	for it := range e.dispatch {
		e.results <- e.p.post(e.work, it)
	}
}

// post submits one message (validating it again first when its result type was unknown).
func (p *Pipeline) post(ctx context.Context, it *item) posted {
	r := posted{it: it, msg: it.msg, rej: it.rej}
	if it.rej != nil {
		return r // hopeless: never sent (the loop dead-letters these itself; this is a guard)
	}
	if it.revalidate {
		if r.msg, r.rej = p.validate(ctx, it.m.Body); r.rej != nil {
			return r
		}
	}
	r.start = p.cfg.Now()
	r.status, r.err = p.cfg.Submitter.SubmitResult(ctx, it.m.Body)
	r.end = p.cfg.Now()
	if p.cfg.Metrics != nil {
		p.cfg.Metrics.SubmitSeconds.Observe(r.end.Sub(r.start).Seconds())
	}
	return r
}

// wakeAt is when the loop must look at the clock again; zero when nothing waits on it.
func (e *engine) wakeAt() time.Time {
	var at time.Time
	earlier := func(t time.Time) {
		if at.IsZero() || t.Before(at) {
			at = t
		}
	}
	if e.parked.Len() > 0 {
		earlier(e.parked[0].due)
	}
	if len(e.ready)+len(e.retryReady) > 0 {
		now := e.p.cfg.Now()
		if e.gateUntil.After(now) {
			earlier(e.gateUntil)
		}
		if e.authPaused && e.authProbe.After(now) {
			earlier(e.authProbe)
		}
	}
	return at
}

// wake moves parked messages whose time has come on.
func (e *engine) wake() {
	now := e.p.cfg.Now()
	for e.parked.Len() > 0 && !e.parked[0].due.After(now) {
		it := e.parked.pop()
		if it.dl != nil {
			e.startDeadLetter(it)
			continue
		}
		e.pushReady(it, true)
	}
}

// checkStall turns the health red while results keep arriving and none settles for
// StallAfter (Reten failing every POST, or dead letters refused): an operator sees it on
// /readyz, not only in the retry metrics. An auth pause has its own reason.
func (e *engine) checkStall() {
	now := e.p.cfg.Now()
	stuck := !e.authPaused && e.lastReceived.After(e.lastSettled) && now.Sub(e.lastSettled) >= e.p.cfg.StallAfter
	if stuck == e.stalled {
		return
	}
	e.stalled = stuck
	if !stuck {
		e.p.setHealth(true, "")
		e.p.log.Info().Msg("results settle again")
		return
	}
	reason := fmt.Sprintf("no result settled for %s while results keep arriving (is Reten failing? see reten_relay_result_retries_total)",
		now.Sub(e.lastSettled).Round(time.Second))
	e.p.setHealth(false, reason)
	e.p.log.Warn().Msg(reason)
}
