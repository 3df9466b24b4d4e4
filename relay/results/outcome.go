package results

import (
	"errors"
	"time"

	"github.com/reten/reten-relay/schema"
)

// onPosted decides what a POST's answer means for its message, its key and Reten.
func (e *engine) onPosted(r posted) {
	it := r.it
	e.inflight--
	if r.rej != nil {
		e.deadLetterItem(it, r.rej.Reason, r.rej.Err)
		return
	}
	it.msg, it.revalidate = r.msg, false
	it.attempts++
	if it.first.IsZero() {
		it.first = r.start
	}
	it.last = r.end
	err := r.err
	it.status, it.response = r.status, ""
	if err != nil {
		it.status, it.response = errStatus(err), errResponse(err)
	}
	if !errors.Is(err, schema.ErrAuth) {
		e.authResumed()
	}
	switch {
	case err == nil:
		e.lim.success()
		e.ack(it, schema.OutcomeAccepted)
	case errors.Is(err, schema.ErrConflict):
		e.lim.success()
		if e.p.cfg.OnConflict == OnConflictDeadLetter {
			e.deadLetterItem(it, schema.ReasonConflict, err.Error())
		} else {
			e.ack(it, schema.OutcomeAlreadyRecorded)
		}
	case errors.Is(err, schema.ErrAuth):
		e.authFailed(err)
		e.pushReady(it, true) // it probes when the probe is due
	case errors.Is(err, schema.ErrRejected):
		e.lim.success()
		e.deadLetterItem(it, schema.ReasonRejected, err.Error())
	default: // transient, or unclassified
		e.retryLater(it, err)
	}
}

// retryLater parks a message after a transient failure, sends it to the broker for a long
// wait, or dead-letters it once it has failed for longer than Backoff.MaxElapsed.
func (e *engine) retryLater(it *item, err error) {
	if e.draining {
		e.giveBackKey(it)
		return
	}
	now := e.p.cfg.Now()
	it.failures++
	newRound := e.lim.failure(it.key, it.seq)
	if m := e.p.cfg.Metrics; m != nil {
		m.Retries.WithLabelValues("transient").Inc()
	}
	if now.Sub(it.first) > e.p.cfg.Backoff.MaxElapsed {
		e.deadLetterItem(it, schema.ReasonRetriesExhausted, err.Error())
		return
	}
	wait := e.p.backoffWait(it.failures, !e.lim.congested())
	ra := retryAfter(err)
	if ra > 0 {
		ra = min(ra, e.p.cfg.RetryAfterCap)
		wait = max(wait, ra)
	}
	if it.status == 429 {
		e.closeGate(now.Add(max(ra, wait))) // one 429 slows every worker
	}
	if newRound {
		if e.lim.limit == 1 {
			pause := e.p.probeWait(max(1, e.lim.probeFails))
			e.closeGate(now.Add(pause))
			e.p.log.Warn().Err(err).Stringer("next_probe_in", pause).Msg("reten fails for many activities; one POST at a time probes it")
		} else {
			e.p.log.Warn().Err(err).Int("in_flight_limit", e.lim.limit).Msg("reten fails for many activities; fewer POSTs in flight")
		}
	}
	e.p.log.Debug().Err(err).Int("attempt", it.attempts).Stringer("retry_in", wait).Str("task_id", taskID(it.msg)).Msg("submitting a result failed; retrying")
	if wait > e.p.cfg.LongWait {
		e.toBroker(it, wait)
		return
	}
	e.park(it, now.Add(wait))
}

func (e *engine) closeGate(until time.Time) {
	if until.After(e.gateUntil) {
		e.gateUntil = until
	}
}

// ack lets the key go on at once (Reten has the result); the worker that booked the
// answer acks the message when it leaves the lock (settleAcks). Only onPosted, which runs
// in a worker, calls it.
func (e *engine) ack(it *item, outcome string) {
	e.releaseKey(it)
	e.settling++
	it.outcome = outcome
	e.toAck = append(e.toAck, it)
}

// deadLetterItem starts dead-lettering a message; its key waits until the dead letter is
// published, so a later result of the activity never overtakes it.
func (e *engine) deadLetterItem(it *item, reason, errText string) {
	it.dl = &dlJob{reason: reason, errText: errText}
	e.startDeadLetter(it)
}

func (e *engine) startDeadLetter(it *item) {
	e.settling++
	go func() {
		if err := e.p.publishDeadLetter(e.work, it); err != nil {
			e.settledDone(settledItem{it: it, dlErr: err})
			return
		}
		e.p.ackWithRetry(e.work, it)
		e.p.deadLettered(it)
		e.settledDone(settledItem{it: it, release: true})
	}()
}

// onSettled books a settle goroutine's end. A dead letter that could not be published
// waits (with backoff, kept alive at the broker) and is tried again.
func (e *engine) onSettled(s settledItem) {
	e.settling--
	it := s.it
	if s.dlErr != nil {
		it.dl.fails++
		wait := e.p.backoffWait(it.dl.fails, false)
		if it.dl.fails == 1 {
			e.p.log.Error().Err(s.dlErr).Str("reason", it.dl.reason).Stringer("retry_in", wait).Msg("publishing a dead letter failed; retrying, the message stays unacked")
		}
		if e.draining {
			e.giveBackKey(it)
			return
		}
		e.park(it, e.p.cfg.Now().Add(wait))
		return
	}
	if s.release {
		e.releaseKey(it)
	}
	e.forget(it)
	e.lastSettled = e.p.cfg.Now()
	if e.stalled {
		e.checkStall()
	}
}

// authFailed pauses the pipeline; it logs and turns the health red once per change.
func (e *engine) authFailed(err error) {
	reason := authReason(err)
	if m := e.p.cfg.Metrics; m != nil {
		m.Retries.WithLabelValues("auth").Inc()
	}
	started := !e.authPaused
	e.authPaused = true
	e.authProbe = e.p.cfg.Now().Add(e.p.cfg.AuthProbeInterval)
	changed := e.p.cfg.Health == nil || e.p.cfg.Health.Set(HealthComponent, false, reason)
	if started || changed {
		e.p.log.Error().Msgf("%s: result delivery paused (nothing is acked or dead-lettered); probing every %s", reason, e.p.cfg.AuthProbeInterval)
	}
}

// authResumed ends an auth pause.
func (e *engine) authResumed() {
	if !e.authPaused {
		return
	}
	e.authPaused = false
	e.p.setHealth(true, "")
	e.p.log.Info().Msg("reten accepts the key again; delivering results")
}

func errStatus(err error) int {
	var st interface{ HTTPStatus() int }
	if errors.As(err, &st) {
		return st.HTTPStatus()
	}
	return 0
}

func errResponse(err error) string {
	var r interface{ Response() string }
	if errors.As(err, &r) {
		return r.Response()
	}
	return ""
}

func retryAfter(err error) time.Duration {
	var r interface{ RetryAfterDelay() time.Duration }
	if errors.As(err, &r) {
		return r.RetryAfterDelay()
	}
	return 0
}
