package tasks

import (
	"context"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Run polls until ctx is done: a cycle every Interval, and after a failed or incomplete
// cycle a retry paced by Backoff. Each sink's part of the outbox is published by its own
// drainer, so a broker that is down delays only its own events. Run returns nil on
// shutdown; a cycle interrupted by ctx leaves its events in the outbox for the next start.
func (p *Poller) Run(ctx context.Context) error {
	p.background.Store(true)
	defer p.background.Store(false)
	var wg sync.WaitGroup
	bgCtx, stop := context.WithCancel(ctx)
	defer func() {
		stop()
		wg.Wait()
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.watchStaleness(bgCtx)
	}()
	for _, d := range p.drains {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The first cycle loads the queue sizes; the drainers start then, so a
			// first sync publishes its chunks while it lists.
			select {
			case <-p.stateLoaded:
			case <-bgCtx.Done():
				return
			}
			p.drainLoop(bgCtx, d)
		}()
	}
	bo := p.newBackoff()
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

func (p *Poller) newBackoff() *backoff.ExponentialBackOff {
	return backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(p.cfg.Backoff.Initial),
		backoff.WithMaxInterval(p.cfg.Backoff.Max),
		backoff.WithMaxElapsedTime(0),
	)
}

// drainLoop publishes d's queue whenever a cycle committed something for it, and retries
// with backoff while the sink fails.
func (p *Poller) drainLoop(ctx context.Context, d *sinkDrain) {
	bo := p.newBackoff()
	retry := time.NewTimer(0) // drain what an earlier run left at once
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.kick:
		case <-retry.C:
		}
		n, err := p.drainSink(ctx, d)
		if ctx.Err() != nil {
			return
		}
		p.drained(d, err)
		if err != nil {
			wait := bo.NextBackOff()
			p.log.Warn().Err(err).Str("sink", d.name).Int("published", n).Stringer("retry_in", wait).
				Msg("sink drain failed: its messages stay queued, other sinks go on")
			retry.Reset(wait)
			continue
		}
		bo.Reset()
		if n > 0 {
			p.log.Debug().Str("sink", d.name).Int("published", n).Msg("sink drained")
		}
		if pending, _, _ := d.status(); n > 0 && pending == 0 && !p.cycling.Load() {
			// A cycle's worth of bodies published (a first sync's): settle the memory now,
			// unless a cycle still lists (a first sync drains between its chunks) or more
			// messages wait, whose bodies would fault the pages in again. A cycle that
			// ends with nothing waiting settles itself.
			p.mergeRuns(ctx)
			p.settleMemory()
		}
	}
}

// watchStaleness re-evaluates readiness between cycles, so /readyz turns red when a cycle
// hangs or keeps failing, or a sink stops draining, for longer than the staleness limit.
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
