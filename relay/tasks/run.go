package tasks

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/reten/reten-relay/schema"
)

// Run polls until ctx is done: a cycle every Interval, and after a failed or incomplete
// cycle a retry paced by Backoff. It returns nil on shutdown; a cycle interrupted by ctx
// leaves its events in the outbox for the next start.
func (p *Poller) Run(ctx context.Context) error {
	bo := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(p.cfg.Backoff.Initial),
		backoff.WithMaxInterval(p.cfg.Backoff.Max),
		backoff.WithMaxElapsedTime(0),
	)
	watchDone := make(chan struct{})
	watchCtx, stopWatch := context.WithCancel(ctx)
	go func() {
		defer close(watchDone)
		p.watchStaleness(watchCtx)
	}()
	defer func() {
		stopWatch()
		<-watchDone
	}()
	for {
		rep, err := p.Cycle(ctx)
		if ctx.Err() != nil {
			return nil
		}
		wait := p.cfg.Interval - rep.Duration
		if err != nil {
			wait = bo.NextBackOff()
		} else {
			bo.Reset()
		}
		t := time.NewTimer(max(wait, 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// watchStaleness re-evaluates readiness between cycles, so /readyz turns red when a cycle
// hangs or keeps failing for longer than the staleness limit.
func (p *Poller) watchStaleness(ctx context.Context) {
	tick := time.NewTicker(max(p.cfg.Interval/2, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			p.evalHealth()
		}
	}
}

// healthState is what readiness is computed from. It has its own lock because the
// staleness watcher reads it while a cycle runs.
type healthState struct {
	mu           sync.Mutex
	lastComplete time.Time
	failures     int
	lastErr      error
}

func (h *healthState) completed(at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastComplete = at
}

func (h *healthState) finished(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		h.failures, h.lastErr = 0, nil
		return
	}
	h.failures++
	h.lastErr = err
}

// readiness decides the Poller's readiness: an auth failure at once, otherwise repeated
// failures, no complete poll yet, or a stale last complete poll.
func (p *Poller) readiness() (bool, string) {
	h := &p.health
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.lastErr != nil && errors.Is(h.lastErr, schema.ErrAuth):
		return false, fmt.Sprintf("reten key rejected (401/403): %v; the key must be valid and have VIEW_ACTIVITIES", h.lastErr)
	case h.failures >= failuresBeforeUnready:
		return false, fmt.Sprintf("%d poll cycles failed in a row: %v", h.failures, h.lastErr)
	case h.lastComplete.IsZero():
		return false, "no complete poll yet"
	}
	limit := staleIntervals * p.cfg.Interval
	if age := p.cfg.Now().Sub(h.lastComplete); age > limit {
		return false, fmt.Sprintf("last complete poll %s ago (limit %s, 3 intervals)", age.Round(time.Second), limit)
	}
	return true, ""
}

// evalHealth publishes readiness to ops.Health and logs changes.
func (p *Poller) evalHealth() {
	if p.cfg.Health == nil {
		return
	}
	ready, reason := p.readiness()
	if p.cfg.Health.Set(HealthComponent, ready, reason) {
		if ready {
			p.log.Info().Msg("tasks poller ready")
		} else {
			p.log.Warn().Str("reason", reason).Msg("tasks poller not ready")
		}
	}
}
