package results

import (
	"context"
	"sync"
	"time"
)

// rateGate is shared by every worker: after a 429, nobody calls Reten until it opens.
type rateGate struct {
	mu    sync.Mutex
	until time.Time
}

// closeUntil keeps the gate closed until t (a later t wins).
func (g *rateGate) closeUntil(t time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t.After(g.until) {
		g.until = t
	}
}

// wait blocks until the gate is open or ctx is done.
func (g *rateGate) wait(ctx context.Context, now func() time.Time) error {
	for {
		g.mu.Lock()
		d := g.until.Sub(now())
		g.mu.Unlock()
		if d <= 0 {
			return nil
		}
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
}

// authGate pauses every worker while Reten rejects the key. One worker at a time probes:
// the first that finds the probe due claims it; the others wait for the outcome.
type authGate struct {
	mu        sync.Mutex
	paused    bool
	reason    string
	nextProbe time.Time
	resumed   chan struct{} // closed when the pause ends
}

// pause records an auth failure; it reports whether this started a pause (for logging
// once per state change).
func (g *authGate) pause(reason string, next time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	started := !g.paused
	if started {
		g.resumed = make(chan struct{})
	}
	g.paused, g.reason, g.nextProbe = true, reason, next
	return started
}

// resume ends a pause; it reports whether there was one.
func (g *authGate) resume() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.paused {
		return false
	}
	g.paused = false
	close(g.resumed)
	return true
}

func (g *authGate) isPaused() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.paused
}

// await returns when the caller may call Reten: at once when not paused; while paused,
// when this caller claimed the due probe (probe true) or the pause ended. tick is called
// now and then while waiting (to keep a held message alive at the broker).
func (g *authGate) await(ctx context.Context, now func() time.Time, interval time.Duration, tick func()) (probe bool, err error) {
	for {
		g.mu.Lock()
		if !g.paused {
			g.mu.Unlock()
			return false, nil
		}
		resumed := g.resumed
		d := g.nextProbe.Sub(now())
		if d <= 0 {
			g.nextProbe = now().Add(interval) // claim the probe
			g.mu.Unlock()
			return true, nil
		}
		g.mu.Unlock()
		t := time.NewTimer(min(d, keepAliveEvery))
		select {
		case <-ctx.Done():
			t.Stop()
			return false, ctx.Err()
		case <-resumed:
			t.Stop()
		case <-t.C:
			tick()
		}
	}
}

// keepAliveEvery is how often a held message gets an in-progress signal, well inside
// JetStream's default AckWait of 30s.
const keepAliveEvery = 10 * time.Second

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// waitResumed blocks while paused, without probing.
func (g *authGate) waitResumed(ctx context.Context) error {
	g.mu.Lock()
	paused, resumed := g.paused, g.resumed
	g.mu.Unlock()
	if !paused {
		return nil
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-resumed:
		return nil
	}
}
