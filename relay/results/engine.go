package results

import (
	"context"
	"sync"
	"time"

	"github.com/reten/reten-relay/schema"
)

// engine is the delivery engine. Its books are guarded by mu and kept by whoever has news:
// the receiver when a message arrives, a worker when Reten answered, a settle goroutine
// when a settle is done, a timer when something is due. A goroutine that finds work takes
// it itself: a worker that is done with a POST takes the next message without a hand-off,
// and a message waiting in the books wakes a worker only when one is idle. So on the happy
// path a message costs no more wake-ups than in a plain consumer loop, which is most of
// what a message costs on a machine that is not saturated (see the README's performance
// notes).
type engine struct {
	p          *Pipeline
	stop, work context.Context
	settleCtx  context.Context // work without its cancel: an ack outlives the shutdown grace

	mu       sync.Mutex
	workCond *sync.Cond // idle workers wait here
	roomCond *sync.Cond // the receiver waits here for room
	idle     int        // workers waiting
	waking   int        // of them, signalled and not yet running: one at a time, each wakes the next
	roomWait int        // receivers waiting for room (one, but a restarted pull may overlap)
	finished bool       // shut down: workers and timers stop

	keys       map[string]*keyState
	ready      []*item // heads whose key may POST now, oldest first
	retryReady []*item // the same for retries, which go first
	parked     parkHeap
	byOrigin   map[schema.Origin]*item
	history    map[schema.Origin]history

	held, heldBytes int
	inflight        int // POSTs
	settling        int // settle goroutines
	receiving       bool
	draining        bool
	seq             uint64

	toAck []*item // answered by Reten: the worker that booked the answer acks them

	lim        limiter
	gateUntil  time.Time // 429 Retry-After, or the pace of probes while Reten is down
	authPaused bool
	authProbe  time.Time

	timer     *time.Timer // wakes parked messages, and dispatch after a gate or a probe pause
	timerAt   time.Time   // when timer fires; zero when it is not armed
	keepAlive time.Duration
	tick      *time.Timer // how often held messages are checked for InProgress

	// lastSettled and lastReceived tell a stall: results arriving while none settles.
	lastSettled, lastReceived time.Time
	stalled                   bool
}

func newEngine(p *Pipeline, stop, work context.Context) *engine {
	e := &engine{
		p: p, stop: stop, work: work, settleCtx: context.WithoutCancel(work),
		keys: map[string]*keyState{}, byOrigin: map[schema.Origin]*item{}, history: map[schema.Origin]history{},
		receiving: true, lim: newLimiter(p.cfg.Concurrency), keepAlive: time.Second,
	}
	e.workCond, e.roomCond = sync.NewCond(&e.mu), sync.NewCond(&e.mu)
	return e
}

// run starts the receiver and the workers and returns after shutdown, when nothing is in
// flight or being settled and everything else was given back.
func (e *engine) run() {
	e.mu.Lock()
	e.lastSettled = e.p.cfg.Now()
	e.timer = time.AfterFunc(time.Hour, e.onTimer)
	e.timer.Stop()
	e.tick = time.AfterFunc(e.keepAlive, e.onTick)
	e.mu.Unlock()
	defer context.AfterFunc(e.stop, e.onStop)()
	var wg sync.WaitGroup
	wg.Add(1 + e.p.cfg.Concurrency)
	go func() {
		defer wg.Done()
		e.receive()
	}()
	for range e.p.cfg.Concurrency {
		go func() {
			defer wg.Done()
			e.worker()
		}()
	}
	wg.Wait()
	e.mu.Lock()
	e.timer.Stop()
	e.tick.Stop()
	e.mu.Unlock()
}

// after ends every change to the books (under mu): it dead-letters hopeless heads, wakes
// an idle worker when there is something to POST and the receiver when there is room,
// arms the timer for what is due next, and notices the end of a shutdown.
func (e *engine) after() {
	e.dispatchHopeless()
	if e.idle > 0 && e.waking == 0 && e.nextToPost() != nil {
		e.waking++
		e.workCond.Signal()
	}
	if e.roomWait > 0 && (e.draining || e.roomLow()) {
		e.roomCond.Signal()
	}
	e.armTimer()
	if !e.finished && e.draining && !e.receiving && e.inflight == 0 && e.settling == 0 {
		e.finished = true
		e.workCond.Broadcast()
	}
}

// worker POSTs one message after another. Between two POSTs it takes the next message
// itself; it waits only when there is nothing it may POST.
func (e *engine) worker() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for {
		e.checkStop()
		e.dispatchHopeless()
		if it := e.nextToPost(); it != nil {
			e.posting(it)
			e.after() // more to POST: the next idle worker
			e.mu.Unlock()
			r := e.p.post(e.work, it)
			e.mu.Lock()
			e.onPosted(r)
			if len(e.toAck) > 0 {
				acks := e.toAck
				e.toAck = nil
				e.mu.Unlock()
				e.settleAcks(acks)
				e.mu.Lock()
			}
			continue
		}
		e.after()
		if e.finished {
			return
		}
		e.idle++
		e.workCond.Wait()
		e.idle--
		e.waking = max(0, e.waking-1)
	}
}

// roomOpen reports whether the receiver may take another message: MaxBuffered and
// MaxBufferedBytes bound what is held, nothing is taken during an auth pause, and no more is
// read ahead while readyAhead messages wait for nothing but a free worker.
func (e *engine) roomOpen() bool {
	return e.roomFor(e.readyAhead())
}

// roomLow is roomOpen with half the read-ahead: the receiver, once it waits, is woken only
// when it can take a few messages in a row.
func (e *engine) roomLow() bool {
	return e.roomFor(e.readyAhead() / 2)
}

func (e *engine) roomFor(ahead int) bool {
	return e.receiving && !e.draining && !e.authPaused && e.heldBytes < e.p.cfg.MaxBufferedBytes && e.held < e.p.cfg.MaxBuffered &&
		len(e.ready)+len(e.retryReady) < ahead
}

// readyAhead is how many messages may wait for a free worker. More would not be delivered
// sooner, only held longer: with a backlog at the broker, a pipeline that filled
// MaxBuffered with them held about ten times the messages, and the garbage collector's
// work grows with what is held (it was the largest part of the CPU the relay spent per
// message over a plain consumer loop). Messages held for their activity (behind its head)
// or for a retry are not counted, so a busy or failing activity never stops the others.
func (e *engine) readyAhead() int {
	return max(16, 2*e.p.cfg.Concurrency)
}

// pusher is a source that hands each message over from its own goroutine. The NATS
// source does: its pull already runs a goroutine that hands messages out one by one, and
// handing them on to a goroutine that calls Receive cost one more goroutine wake-up per
// message, which on a machine that is not saturated costs more than most of what the
// engine does with the message.
type pusher interface {
	// Push calls deliver for each message, one at a time, until ctx is done or the pull
	// ends (then it returns why; the caller may call it again). deliver returns false when
	// the message was not taken: the source stops, and the message comes again later.
	Push(ctx context.Context, deliver func(schema.Received) bool) error
}

// receive reads messages while the engine has room for them, so nothing waits outside the
// engine with its ack deadline running.
func (e *engine) receive() {
	defer func() {
		e.mu.Lock()
		e.receiving = false
		e.after()
		e.mu.Unlock()
	}()
	push, pushes := e.p.cfg.Source.(pusher)
	var lastErr string
	for {
		var err error
		if pushes {
			began := e.p.cfg.Now()
			err = push.Push(e.stop, e.offer)
			e.mu.Lock()
			if e.lastReceived.After(began) {
				lastErr = "" // it worked in between: the same error is news again
			}
			e.mu.Unlock()
		} else {
			if !e.waitRoom() {
				return
			}
			var m schema.Received
			if m, err = e.p.cfg.Source.Receive(e.stop); err == nil {
				lastErr = ""
				e.take(m)
				continue
			}
		}
		if e.stop.Err() != nil {
			return
		}
		if err.Error() != lastErr {
			e.p.log.Warn().Err(err).Msg("receiving result messages failed; retrying")
			lastErr = err.Error()
		}
		if schema.Sleep(e.stop, time.Second) != nil {
			return
		}
	}
}

// offer takes a message a pusher hands over once there is room for it; false when the
// engine drains and takes nothing more.
func (e *engine) offer(m schema.Received) bool {
	if !e.waitRoom() {
		return false
	}
	e.take(m)
	return true
}

// waitRoom blocks until the engine may take another message; false once it drains.
func (e *engine) waitRoom() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for !e.draining && !e.roomOpen() {
		e.roomWait++
		e.roomCond.Wait()
		e.roomWait--
	}
	return !e.draining
}

// take validates m (outside the lock) and books it.
func (e *engine) take(m schema.Received) {
	it := e.p.newItem(m)
	e.mu.Lock()
	e.checkStop()
	e.add(it)
	e.after()
	e.mu.Unlock()
}

// settledDone books what a settle goroutine reports.
func (e *engine) settledDone(s settledItem) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.onSettled(s)
	e.after()
}

// onStop starts the shutdown.
func (e *engine) onStop() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.checkStop()
	e.after()
}

// checkStop starts the shutdown as soon as anyone sees the stop context done, not only
// when onStop gets the lock: a worker back from a POST must not take another message
// after the stop.
func (e *engine) checkStop() {
	if !e.draining && e.stop.Err() != nil {
		e.drain()
	}
}

// post submits one message (validating it again first when its result type was unknown).
func (p *Pipeline) post(ctx context.Context, it *item) posted {
	r := posted{it: it, msg: it.msg, rej: it.rej}
	if it.rej != nil {
		return r // hopeless: never sent (dispatchHopeless dead-letters these; this is a guard)
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

// settleAcks acks messages Reten has, outside the lock, in the worker that booked the
// answer: sources take an ack without waiting (the NATS source queues it for a round that it
// confirms, and sends again if lost; Kafka marks an offset), so no goroutine per message is
// needed. An ack that fails, and a message whose outcome is published (a broker round
// trip), are settled in a goroutine that tries again while the broker cannot be reached.
func (e *engine) settleAcks(acks []*item) {
	for _, it := range acks {
		if e.p.cfg.Outcomes != nil || it.m.Ack(e.settleCtx) != nil {
			go func() {
				e.p.ackWithRetry(e.work, it)
				e.p.settledOutcome(it, it.outcome, "", "")
				e.settledDone(settledItem{it: it})
			}()
			continue
		}
		e.p.settledOutcome(it, it.outcome, "", "")
		e.settledDone(settledItem{it: it})
	}
}
