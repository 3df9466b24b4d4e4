package tasks

import (
	"context"
	"fmt"
	"sync"
)

// ackQueue is how many groups of confirmed messages may wait for the state file before
// the drain stops sending.
const ackQueue = 4

// acker removes confirmed messages from a sink's queue in the background, in groups, so
// the drain keeps publishing while a group waits for the state file: during a first sync a
// chunk's commit holds bbolt's only writer for hundreds of milliseconds, and a drain that
// waited for it sent nothing meanwhile.
type acker struct {
	p      *Poller
	d      *sinkDrain
	ctx    context.Context
	groups chan []Queued
	done   chan struct{}

	mu    sync.Mutex
	err   error // the first failure; later groups are not removed
	acked int
}

// startAcker starts d's acker. Removals go on when ctx is cancelled: the sink confirmed
// these messages, and what is not removed is sent twice.
func (p *Poller) startAcker(ctx context.Context, d *sinkDrain) *acker {
	a := &acker{p: p, d: d, ctx: context.WithoutCancel(ctx), groups: make(chan []Queued, ackQueue), done: make(chan struct{})}
	go a.run()
	return a
}

func (a *acker) run() {
	defer close(a.done)
	for qs := range a.groups {
		if a.failed() != nil {
			continue // the drain stops at its next check; these stay queued
		}
		pos := make([]QueuePos, len(qs))
		for i, q := range qs {
			pos[i] = q.Pos
		}
		if err := a.p.cfg.Store.Ack(a.ctx, a.d.name, pos); err != nil {
			a.mu.Lock()
			a.err = fmt.Errorf("remove %d published messages from the outbox of sink %s: %w", len(pos), a.d.name, err)
			a.mu.Unlock()
			continue
		}
		a.p.acked(a.d, qs)
		a.mu.Lock()
		a.acked += len(qs)
		a.mu.Unlock()
	}
}

// add hands over a group of confirmed messages; it blocks while ackQueue groups wait.
func (a *acker) add(qs []Queued) {
	if len(qs) > 0 {
		a.groups <- qs
	}
}

// failed returns the first removal that failed, if any.
func (a *acker) failed() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// close waits until every group handed over is removed (or failed) and returns how many
// messages were removed and the first failure.
func (a *acker) close() (int, error) {
	close(a.groups)
	<-a.done
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.acked, a.err
}
