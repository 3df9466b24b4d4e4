package tasks

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"time"

	"github.com/reten/reten-relay/relay"
	"github.com/reten/reten-relay/schema"
)

// Drain tuning.
const (
	// flightsInFlight is how many batches one sink may have unconfirmed at once. kafka-go
	// writes one produce request per partition at a time, and with three batches of 1,000
	// in flight its writer idled between one's ack and the next call: 30,000 1.4 KB
	// messages into kfake went at ~250,000/s with three and 390,000-530,000/s with eight.
	flightsInFlight = 8
	// ackGroup is how many confirmed messages are removed from the outbox in one
	// transaction: fewer fsyncs, at the price of re-publishing (same ids) up to this many
	// after a crash.
	ackGroup = 4096
)

// sinkDrain is one sink's part of the outbox and what readiness knows about it. Each sink
// drains on its own, so one broker's outage never delays or duplicates another's events.
type sinkDrain struct {
	name string
	sink relay.Sink
	run  sync.Mutex    // one drain at a time
	kick chan struct{} // wakes the background drainer; capacity 1

	mu           sync.Mutex
	pending      int
	lastProgress time.Time
	lastErr      error
	changed      chan struct{} // closed when pending shrinks or a drain fails; nil when nobody waits
}

// waitBelow returns once at most n messages wait for d, or its last drain failed (a sink
// that is down must not stop the listing: its outbox grows up to OutboxLimit instead), or
// ctx is done. It calls waiting, once, before it waits.
func (d *sinkDrain) waitBelow(ctx context.Context, n int, waiting func(pending int)) error {
	for {
		d.mu.Lock()
		if d.pending <= n || d.lastErr != nil {
			d.mu.Unlock()
			return nil
		}
		if waiting != nil {
			waiting(d.pending)
			waiting = nil
		}
		if d.changed == nil {
			d.changed = make(chan struct{})
		}
		ch := d.changed
		d.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// signal wakes waitBelow; d.mu is held.
func (d *sinkDrain) signal() {
	if d.changed != nil {
		close(d.changed)
		d.changed = nil
	}
}

func (d *sinkDrain) status() (pending int, lastProgress time.Time, lastErr error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.pending, d.lastProgress, d.lastErr
}

func (d *sinkDrain) wake() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// flight is one batch being published.
type flight struct {
	qs    []Queued
	tasks []uint64 // busyTasks keys of qs
	start time.Time
	done  chan error
}

// drainSink publishes sink d's queue, oldest first, several batches in flight, and
// removes confirmed messages in large groups in the background (acker). A batch is sent while earlier ones wait for
// their acks only when it holds no task of theirs, so each task's events keep their order.
// It stops at the first failure: the failed batch and everything after it stay queued and
// are published again (same bytes, same ids) by the next drain. It returns how many
// messages the sink confirmed.
func (p *Poller) drainSink(ctx context.Context, d *sinkDrain) (int, error) {
	d.run.Lock()
	defer d.run.Unlock()
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		queue     []*flight
		after     *QueuePos
		exhausted bool
		toAck     []Queued
		busy      = newBusyTasks() // tasks in flight
	)
	acks := p.startAcker(ctx, d)
	flush := func() {
		acks.add(toAck)
		toAck = nil
	}
	fail := func(err error) (int, error) {
		cancel()
		for _, f := range queue {
			<-f.done
		}
		flush()
		n, ackErr := acks.close()
		return n, errors.Join(err, ackErr)
	}
	var next []Queued      // read but not sent: it shares a task with a batch in flight
	var nextTasks []uint64 // busyTasks keys of next
	for {
		for !exhausted && len(queue) < flightsInFlight {
			if next == nil {
				qs, err := p.cfg.Store.Outbox(ctx, d.name, after, p.cfg.PublishBatch)
				if err != nil {
					return fail(fmt.Errorf("read outbox of sink %s: %w", d.name, err))
				}
				if len(qs) == 0 {
					exhausted = true
					break
				}
				after, next = &qs[len(qs)-1].Pos, qs
				nextTasks = busy.keys(next)
			}
			if len(queue) > 0 && busy.shares(nextTasks) {
				break
			}
			queue = append(queue, p.send(pctx, d, next, nextTasks, busy))
			next, nextTasks = nil, nil
		}
		if len(queue) == 0 {
			flush()
			return acks.close()
		}
		f := queue[0]
		queue = queue[1:]
		err := <-f.done
		busy.done(f.tasks)
		if err != nil {
			return fail(fmt.Errorf("publish %d messages to sink %s: %w", len(f.qs), d.name, err))
		}
		if m := p.cfg.Metrics; m != nil {
			m.PublishSeconds.WithLabelValues(d.name).Observe(time.Since(f.start).Seconds())
		}
		if h := p.cfg.Hooks.AfterPublish; h != nil {
			h()
		}
		for i := range f.qs {
			// Published: the acker needs positions and ops, not the bytes, which would
			// otherwise live until a group of ackGroup is removed.
			f.qs[i].Body, f.qs[i].Target.Body = nil, nil
		}
		if toAck == nil {
			toAck = make([]Queued, 0, ackGroup+len(f.qs))
		}
		toAck = append(toAck, f.qs...)
		if len(toAck) >= ackGroup {
			flush()
		}
		if err := acks.failed(); err != nil {
			return fail(err)
		}
	}
}

// send publishes one batch in the background.
func (p *Poller) send(ctx context.Context, d *sinkDrain, qs []Queued, tasks []uint64, busy *busyTasks) *flight {
	msgs := make([]schema.Message, len(qs))
	for i, q := range qs {
		msgs[i] = messageOf(q)
	}
	busy.add(tasks)
	f := &flight{qs: qs, tasks: tasks, start: time.Now(), done: make(chan error, 1)}
	go func() { f.done <- d.sink.Publish(ctx, msgs) }()
	return f
}

// busyTasks counts the messages in flight per task, by a hash of the task id: a string
// map's inserts and deletes of 100,000 ids were a few percent of a first sync. Two ids
// with the same hash only make a batch wait for the other's (order is kept either way).
// A batch's keys are hashed once (keys) for its look-up, its start and its end.
type busyTasks struct {
	seed maphash.Seed
	n    map[uint64]int32
}

func newBusyTasks() *busyTasks {
	return &busyTasks{seed: maphash.MakeSeed(), n: map[uint64]int32{}}
}

// keys returns the key of each message's task.
func (b *busyTasks) keys(qs []Queued) []uint64 {
	ks := make([]uint64, len(qs))
	for i := range qs {
		ks[i] = maphash.String(b.seed, qs[i].Head.TaskID)
	}
	return ks
}

func (b *busyTasks) add(keys []uint64) {
	for _, k := range keys {
		b.n[k]++
	}
}

func (b *busyTasks) done(keys []uint64) {
	for _, k := range keys {
		if c := b.n[k] - 1; c > 0 {
			b.n[k] = c
		} else {
			delete(b.n, k)
		}
	}
}

// shares reports whether any of keys is of a task in flight.
func (b *busyTasks) shares(keys []uint64) bool {
	for _, k := range keys {
		if b.n[k] > 0 {
			return true
		}
	}
	return false
}

// acked records confirmed messages in the sink's status and the metrics.
func (p *Poller) acked(d *sinkDrain, qs []Queued) {
	d.mu.Lock()
	d.pending = max(d.pending-len(qs), 0)
	d.lastProgress, d.lastErr = p.cfg.Now(), nil
	d.signal()
	d.mu.Unlock()
	p.setPending()
	if m := p.cfg.Metrics; m != nil {
		for _, q := range qs {
			m.Events.WithLabelValues(string(q.Head.Op), d.name).Inc()
		}
	}
}

// drainAll drains every sink at once and waits for all of them; one sink's failure does
// not stop the others. It returns how many messages were confirmed.
func (p *Poller) drainAll(ctx context.Context) (int, error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	total := 0
	for _, d := range p.drains {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := p.drainSink(ctx, d)
			p.drained(d, err)
			mu.Lock()
			defer mu.Unlock()
			total += n
			if err != nil {
				errs = append(errs, err)
			}
		}()
	}
	wg.Wait()
	return total, errors.Join(errs...)
}

// drained records the end of one drain of d for readiness.
func (p *Poller) drained(d *sinkDrain, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err == nil {
		d.lastErr = nil
		if d.pending == 0 {
			d.lastProgress = p.cfg.Now()
		}
		return
	}
	d.lastErr = err
	d.signal()
}
