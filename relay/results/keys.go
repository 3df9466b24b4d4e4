package results

import (
	"container/heap"
	"context"
	"time"

	"github.com/reten/reten-relay/schema"
)

// brokerGrace is how long after its redelivery was due the engine waits for a message it
// gave back to the broker before the messages behind it in its activity go on without it
// (another replica may have taken it).
const brokerGrace = time.Minute

// maxHistory bounds what the engine remembers of messages given back to the broker.
const maxHistory = 100_000

// add takes a received message in: it becomes its key's head and ready, or waits behind
// the key's head.
func (e *engine) add(it *item) {
	it.heap, it.touched = -1, it.received
	o := it.m.Origin
	if o != (schema.Origin{}) {
		if _, dup := e.byOrigin[o]; dup {
			// A redelivery of a message still held (its ack deadline passed before an
			// InProgress reached the broker): the copy held settles it for both.
			return
		}
		e.byOrigin[o] = it
		if h, ok := e.history[o]; ok {
			it.attempts, it.failures, it.first, it.last = h.attempts, h.failures, h.first, h.last
			delete(e.history, o)
		}
	}
	if it.attempts == 0 && it.failures == 0 {
		it.failures = max(0, it.m.Deliveries-1) // after a restart: continue the backoff roughly
	}
	e.held++
	e.heldBytes += len(it.m.Body)
	e.lastReceived = e.p.cfg.Now()
	if a := it.m.AckWait; a > 0 {
		if every := keepAliveEvery(a); every < e.keepAlive {
			e.keepAlive = every
			e.tick.Reset(every)
		}
	}
	if e.draining {
		e.giveBack([]*item{it}, 0)
		return
	}
	ks := e.keys[it.key]
	switch {
	case ks == nil:
		e.keys[it.key] = &keyState{head: it}
		e.pushReady(it, false)
	case ks.head == nil && o != (schema.Origin{}) && ks.atBroker == o:
		ks.head, ks.atBroker = it, schema.Origin{} // back from the broker: it goes first
		e.pushReady(it, true)
	default:
		ks.queue = append(ks.queue, it)
	}
}

// pushReady makes a key's head dispatchable; retries go before fresh messages.
func (e *engine) pushReady(it *item, retry bool) {
	if e.draining {
		e.giveBackKey(it)
		return
	}
	if retry {
		e.retryReady = append(e.retryReady, it)
	} else {
		e.ready = append(e.ready, it)
	}
}

// nextToPost is the message a free worker would take now, or nil: the limit on POSTs in
// flight, the 429 gate and the auth pause (one probe at a time) decide.
func (e *engine) nextToPost() *item {
	if e.draining || e.inflight >= e.lim.limit {
		return nil
	}
	q := e.retryReady
	if len(q) == 0 {
		q = e.ready
	}
	if len(q) == 0 {
		return nil
	}
	now := e.p.cfg.Now()
	if e.gateUntil.After(now) || (e.authPaused && (e.inflight > 0 || now.Before(e.authProbe))) {
		return nil
	}
	return q[0]
}

// posting records that the head of the ready queues went to a worker.
func (e *engine) posting(it *item) {
	if len(e.retryReady) > 0 && e.retryReady[0] == it {
		e.retryReady[0], e.retryReady = nil, e.retryReady[1:]
	} else {
		e.ready[0], e.ready = nil, e.ready[1:]
	}
	e.inflight++
	e.seq++
	e.lim.seq = e.seq
	it.seq = e.seq
	if e.authPaused {
		e.authProbe = e.p.cfg.Now().Add(e.p.cfg.AuthProbeInterval)
	}
}

// dispatchHopeless dead-letters heads that failed validation; they need no worker.
func (e *engine) dispatchHopeless() {
	for !e.draining && len(e.ready) > 0 && e.ready[0].rej != nil {
		it := e.ready[0]
		e.ready[0], e.ready = nil, e.ready[1:]
		e.deadLetterItem(it, it.rej.Reason, it.rej.Err)
	}
}

// releaseKey lets the next message of it's key go, or forgets the key.
func (e *engine) releaseKey(it *item) {
	ks := e.keys[it.key]
	if ks == nil || ks.head != it {
		return
	}
	e.nextOfKey(it.key, ks)
}

func (e *engine) nextOfKey(key string, ks *keyState) {
	ks.head, ks.atBroker = nil, schema.Origin{}
	if len(ks.queue) == 0 {
		delete(e.keys, key)
		return
	}
	ks.head = ks.queue[0]
	ks.queue[0], ks.queue = nil, ks.queue[1:]
	e.pushReady(ks.head, false)
}

// toBroker gives a message back for a long wait. Its key stays busy until it comes back
// (or brokerGrace after it was due), and what the engine knew of it is kept for then.
func (e *engine) toBroker(it *item, wait time.Duration) {
	now := e.p.cfg.Now()
	o := it.m.Origin
	if ks := e.keys[it.key]; ks != nil && ks.head == it && o != (schema.Origin{}) {
		ks.head, ks.atBroker, ks.atBrokerUntil = nil, o, now.Add(wait+brokerGrace)
	} else {
		e.releaseKey(it)
	}
	if len(e.history) >= maxHistory {
		for k := range e.history { // forget an arbitrary one: memory stays bounded
			delete(e.history, k)
			break
		}
	}
	if o != (schema.Origin{}) {
		e.history[o] = history{attempts: it.attempts, failures: it.failures, first: it.first, last: it.last, until: now.Add(wait)}
	}
	e.giveBack([]*item{it}, wait)
}

// park waits a message until due, holding its key.
func (e *engine) park(it *item, due time.Time) {
	it.due = due
	heap.Push(&e.parked, it)
}

// giveBack returns messages to the broker in order, to come again after delay.
func (e *engine) giveBack(items []*item, delay time.Duration) {
	e.settling += len(items)
	for _, it := range items {
		// Its redelivery may arrive before the give-back is booked: it is new, not a copy.
		if o := it.m.Origin; e.byOrigin[o] == it {
			delete(e.byOrigin, o)
		}
	}
	go func() {
		for _, it := range items {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(e.work), settleTimeout)
			if it.m.Retry != nil {
				if err := it.m.Retry(ctx, delay); err != nil {
					e.p.log.Warn().Err(err).Msg("giving a result message back to the broker failed; it is delivered again after its ack wait")
				}
			}
			cancel()
			e.settledDone(settledItem{it: it})
		}
	}()
}

// giveBackKey, at shutdown, gives back a message and everything behind it in its key,
// in order; a key whose head waits at the broker keeps its followers behind it.
func (e *engine) giveBackKey(it *item) {
	ks := e.keys[it.key]
	items := []*item{it}
	delay := time.Duration(0)
	if ks != nil {
		if ks.head == nil {
			delay = max(0, ks.atBrokerUntil.Add(-brokerGrace).Sub(e.p.cfg.Now())+100*time.Millisecond)
		}
		for _, q := range ks.queue {
			if q != it {
				items = append(items, q)
			}
		}
		delete(e.keys, it.key)
	}
	e.giveBack(items, delay)
}

// drain starts the shutdown: nothing new is posted, and everything not in flight or being
// settled goes back to the broker. A key whose head is in flight follows it later.
func (e *engine) drain() {
	e.draining = true
	for _, it := range e.retryReady {
		e.giveBackKey(it)
	}
	for _, it := range e.ready {
		e.giveBackKey(it)
	}
	e.retryReady, e.ready = nil, nil
	for e.parked.Len() > 0 {
		e.giveBackKey(e.parked.pop())
	}
	for _, ks := range e.keys {
		if ks.head == nil && len(ks.queue) > 0 {
			e.giveBackKey(ks.queue[0])
		}
	}
}

// forget drops a settled message from the books.
func (e *engine) forget(it *item) {
	e.held--
	e.heldBytes -= len(it.m.Body)
	if o := it.m.Origin; o != (schema.Origin{}) && e.byOrigin[o] == it {
		delete(e.byOrigin, o)
	}
}

// keepAliveEvery is how often held messages whose ack wait is a are looked at: an eighth
// of it (at least 10 ms, at most a second), so an InProgress due a quarter of the ack wait
// after the last one leaves most of the ack wait as margin even from a late tick.
func keepAliveEvery(a time.Duration) time.Duration {
	return min(time.Second, max(a/8, 10*time.Millisecond))
}

// keepAliveHeld sends InProgress for held messages a quarter of their ack wait after the
// last one, lets keys whose head never came back from the broker go on, and forgets old
// history. It returns how often it should run.
func (e *engine) keepAliveHeld() time.Duration {
	now := e.p.cfg.Now()
	every := time.Second
	var calls []func(context.Context) error
	for _, it := range e.byOrigin {
		a := it.m.AckWait
		if a <= 0 || it.m.InProgress == nil {
			continue
		}
		every = min(every, keepAliveEvery(a))
		if now.Sub(it.touched) >= a/4 {
			it.touched = now
			calls = append(calls, it.m.InProgress)
		}
	}
	if len(calls) > 0 {
		go func() {
			for _, c := range calls {
				ctx, cancel := context.WithTimeout(context.WithoutCancel(e.work), settleTimeout)
				_ = c(ctx) // best effort: a lost one costs a duplicate, which Reten answers with 409
				cancel()
			}
		}()
	}
	for key, ks := range e.keys {
		if ks.head == nil && now.After(ks.atBrokerUntil) {
			e.nextOfKey(key, ks)
		}
	}
	for o, h := range e.history {
		if now.Sub(h.until) > 2*brokerGrace {
			delete(e.history, o)
		}
	}
	return every
}

// parkHeap orders parked messages by due time.
type parkHeap []*item

func (h parkHeap) Len() int           { return len(h) }
func (h parkHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h parkHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heap, h[j].heap = i, j
}

// Push and Pop are for container/heap.
func (h *parkHeap) Push(x any) {
	it := x.(*item)
	it.heap = len(*h)
	*h = append(*h, it)
}

func (h *parkHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	it.heap = -1
	return it
}

func (h *parkHeap) pop() *item { return heap.Pop(h).(*item) }
