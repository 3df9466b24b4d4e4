package tasks

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/reten/reten-relay/schema"
)

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
// failures, no complete poll yet, a stale last complete poll, or a sink whose queue has
// not moved for several intervals.
func (p *Poller) readiness() (bool, string) {
	h := &p.health
	h.mu.Lock()
	lastComplete, failures, lastErr := h.lastComplete, h.failures, h.lastErr
	h.mu.Unlock()
	limit := staleIntervals * p.cfg.Interval
	now := p.cfg.Now()
	for _, d := range p.drains {
		pending, progress, err := d.status()
		if pending > 0 && !progress.IsZero() && now.Sub(progress) > limit {
			reason := fmt.Sprintf("sink %s: %d messages waiting, none confirmed for %s (limit %s, 3 intervals)",
				d.name, pending, now.Sub(progress).Round(time.Second), limit)
			if err != nil {
				reason += ": " + err.Error()
			}
			return false, reason
		}
	}
	switch {
	case lastErr != nil && errors.Is(lastErr, schema.ErrAuth):
		return false, fmt.Sprintf("reten key rejected (401/403): %v; the key must be valid and have VIEW_ACTIVITIES", lastErr)
	case lastErr != nil && errors.Is(lastErr, ErrOutboxFull):
		return false, lastErr.Error()
	case failures >= failuresBeforeUnready:
		return false, fmt.Sprintf("%d poll cycles failed in a row: %v", failures, lastErr)
	case lastComplete.IsZero():
		return false, "no complete poll yet"
	}
	if age := now.Sub(lastComplete); age > limit {
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

// record updates metrics, health and logs after a cycle.
func (p *Poller) record(ctx context.Context, rep CycleReport, err error) {
	m := p.cfg.Metrics
	result := "complete"
	switch {
	case errors.Is(err, ErrIncompleteListing):
		result = "incomplete"
	case !rep.Complete:
		result = "failed"
	}
	if m != nil && ctx.Err() == nil {
		m.PollCycles.WithLabelValues(result).Inc()
		if rep.Complete {
			m.LastCompletePoll.Set(float64(p.cfg.Now().Unix()))
			m.PagesPerCycle.Set(float64(rep.Pages))
			m.TasksPerCycle.Set(float64(rep.Tasks))
			m.DeletesHeld.Set(float64(rep.HeldDeletes))
		}
	}
	if err != nil && ctx.Err() != nil {
		p.log.Info().Err(err).Msg("tasks cycle interrupted by shutdown")
		return
	}
	p.health.finished(err)
	p.evalHealth()
	ev := p.log.Info()
	if err != nil {
		ev = p.log.Warn().Err(err)
	}
	pending := 0
	for _, d := range p.drains {
		n, _, _ := d.status()
		pending += n
	}
	ev.Str("result", result).Int("pages", rep.Pages).Int("tasks", rep.Tasks).
		Int("created", rep.Created).Int("updated", rep.Updated).Int("deleted", rep.Deleted).
		Int("suspected", rep.Suspected).Int("suspects_cleared", rep.Cleared).Int("deletes_held", rep.HeldDeletes).
		Int("published", rep.Published).Int("unrouted", rep.Unrouted).Int("outbox", pending).
		Dur("duration", rep.Duration).Msg("tasks cycle")
}
