package results

import (
	"context"
	"errors"
	"time"

	"github.com/reten/reten-relay/schema"
)

// attempt is the bookkeeping of one message.
type attempt struct {
	m          schema.Received
	msg        *schema.ResultMessage
	key        string
	count      int
	first      time.Time
	last       time.Time
	status     int
	response   string
	lastErrMsg string
}

// handle takes one message to its final outcome, or gives it back to the broker. stop ends
// waiting; work bounds I/O (it outlives stop by a grace period at shutdown).
func (p *Pipeline) handle(stop, work context.Context, m schema.Received) {
	now := p.cfg.Now()
	a := &attempt{m: m, key: orderingKey(m), first: m.FirstDelivered}
	if a.first.IsZero() {
		a.first = now
	}
	if until := p.deferredUntil(a.key); until.After(now) {
		// An earlier result of this activity went back to the broker: let it go first.
		p.giveBack(work, m, until.Sub(now)+100*time.Millisecond)
		return
	}
	msg, rej := p.validate(work, m.Body)
	if rej != nil {
		p.deadLetter(work, a, rej.Reason, rej.Err)
		return
	}
	a.msg = msg
	b := p.newBackoff()
	for {
		if err := p.rate.wait(stop, p.cfg.Now); err != nil {
			p.giveBack(work, m, 0)
			return
		}
		if _, err := p.auth.await(stop, p.cfg.Now, p.cfg.AuthProbeInterval, func() { p.keepAlive(work, m) }); err != nil {
			p.giveBack(work, m, 0)
			return
		}
		start := p.cfg.Now()
		status, err := p.cfg.Submitter.SubmitResult(work, m.Body)
		a.count++
		a.last = p.cfg.Now()
		if p.cfg.Metrics != nil {
			p.cfg.Metrics.SubmitSeconds.Observe(a.last.Sub(start).Seconds())
		}
		a.status, a.response, a.lastErrMsg = status, "", ""
		if err != nil {
			a.status, a.response, a.lastErrMsg = errStatus(err), errResponse(err), err.Error()
		}
		if err == nil || !errors.Is(err, schema.ErrAuth) {
			if p.auth.resume() {
				p.setHealth(true, "")
				p.log.Info().Msg("reten accepts the key again; delivering results")
			}
		}
		switch {
		case err == nil:
			p.ack(work, a, schema.OutcomeAccepted)
			return
		case errors.Is(err, schema.ErrConflict):
			if p.cfg.OnConflict == OnConflictDeadLetter {
				p.deadLetter(work, a, schema.ReasonConflict, err.Error())
			} else {
				p.ack(work, a, schema.OutcomeAlreadyRecorded)
			}
			return
		case errors.Is(err, schema.ErrAuth):
			p.authFailed(err)
			continue
		case errors.Is(err, schema.ErrRejected):
			p.deadLetter(work, a, schema.ReasonRejected, err.Error())
			return
		}
		// Transient (or unclassified): back off and try again.
		if stop.Err() != nil {
			p.giveBack(work, m, 0)
			return
		}
		if p.cfg.Now().Sub(a.first) > p.cfg.Backoff.MaxElapsed {
			p.deadLetter(work, a, schema.ReasonRetriesExhausted, err.Error())
			return
		}
		if p.cfg.Metrics != nil {
			p.cfg.Metrics.Retries.WithLabelValues("transient").Inc()
		}
		wait := b.NextBackOff()
		if ra := retryAfter(err); ra > 0 {
			ra = min(ra, p.cfg.RetryAfterCap)
			wait = max(wait, ra)
			if a.status == 429 {
				p.rate.closeUntil(p.cfg.Now().Add(ra))
			}
		}
		p.log.Debug().Err(err).Int("attempt", a.count).Dur("retry_in", wait).Str("task_id", taskID(msg)).Msg("submitting a result failed; retrying")
		if wait > p.cfg.LongWait {
			p.deferKey(a.key, p.cfg.Now().Add(wait))
			p.giveBack(work, m, wait)
			return
		}
		if err := sleep(stop, wait); err != nil {
			p.giveBack(work, m, 0)
			return
		}
	}
}

// authFailed pauses the pipeline; it logs and turns the health red once per change.
func (p *Pipeline) authFailed(err error) {
	reason := authReason(err)
	if p.cfg.Metrics != nil {
		p.cfg.Metrics.Retries.WithLabelValues("auth").Inc()
	}
	started := p.auth.pause(reason, p.cfg.Now().Add(p.cfg.AuthProbeInterval))
	changed := p.cfg.Health == nil || p.cfg.Health.Set(HealthComponent, false, reason)
	if started || changed {
		p.log.Error().Msgf("%s: result delivery paused (nothing is acked or dead-lettered); probing every %s", reason, p.cfg.AuthProbeInterval)
	}
}

// keepAlive tells the broker a held message is still being worked on.
func (p *Pipeline) keepAlive(ctx context.Context, m schema.Received) {
	if m.InProgress != nil {
		_ = m.InProgress(ctx)
	}
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
