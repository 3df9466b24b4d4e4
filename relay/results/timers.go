package results

import (
	"fmt"
	"time"
)

// onTimer moves on what is due.
func (e *engine) onTimer() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.finished {
		return
	}
	e.timerAt = time.Time{}
	e.wake()
	e.after()
}

// onTick keeps held messages alive at the broker and watches for a stall.
func (e *engine) onTick() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.finished {
		return
	}
	e.checkStall()
	e.keepAlive = e.keepAliveHeld()
	e.after()
	e.tick.Reset(e.keepAlive)
}

// armTimer makes the timer fire when the next thing is due. A timer armed for earlier is
// left alone: when it fires, after() arms it again.
func (e *engine) armTimer() {
	at := e.wakeAt()
	if at.IsZero() || at.Equal(e.timerAt) || (!e.timerAt.IsZero() && at.After(e.timerAt)) {
		return
	}
	e.timerAt = at
	e.timer.Reset(max(time.Until(at), time.Millisecond))
}

// wakeAt is when the engine must look at the clock again; zero when nothing waits on it.
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
