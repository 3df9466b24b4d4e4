package natsstate

import (
	"context"
	"errors"
	"time"
)

// releaseTimeout bounds giving the lease up on the way out.
const releaseTimeout = 5 * time.Second

// Run campaigns for the lease until ctx is done. Whenever this relay holds it, term runs
// with a context that is cancelled when the lease is lost or cannot be renewed in time
// (before it can expire); term must stop polling and publishing when its ctx is done.
// After a term this relay campaigns again. Run returns nil on shutdown, giving the lease
// up so a follower takes over at once, and term's error if term fails by itself.
func (l *Lease) Run(ctx context.Context, term func(context.Context) error) error {
	poll := time.NewTicker(l.pollEvery())
	defer poll.Stop()
	var lastErr string
	for {
		ok, err := l.TryAcquire(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			if err.Error() != lastErr {
				l.s.log.Warn().Err(err).Msg("poller lease: cannot read or take the lease; retrying")
			}
			lastErr = err.Error()
		case ok:
			lastErr = ""
			if err := l.hold(ctx, term); err != nil {
				return err
			}
			continue
		default:
			lastErr = ""
		}
		l.notify(false)
		select {
		case <-ctx.Done():
			return nil
		case <-poll.C:
		}
	}
}

// hold runs one term: term in the background, renewals in the foreground.
func (l *Lease) hold(ctx context.Context, term func(context.Context) error) error {
	l.s.log.Info().Str("replica", l.s.cfg.Replica).Msg("poller lease acquired: this replica polls")
	l.notify(true)
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- term(tctx) }()
	renew := time.NewTicker(l.renewEvery())
	defer renew.Stop()
	check := time.NewTicker(min(l.ttl/20, 250*time.Millisecond))
	defer check.Stop()
	var termErr error
	ended := false
	for !ended {
		select {
		case termErr = <-done:
			ended = true
			continue
		case <-ctx.Done():
		case <-renew.C:
			err := l.renew(ctx)
			if err == nil || ctx.Err() != nil {
				continue
			}
			if !errors.Is(err, ErrNotHolder) {
				l.s.log.Warn().Err(err).Msg("poller lease: renewal failed; retrying until the lease runs out")
				continue
			}
			l.s.log.Warn().Err(err).Str("holder", l.Holder()).Msg("poller lease lost: stepping down")
		case <-check.C:
			if l.Holding() {
				continue
			}
			l.s.log.Warn().Str("holder", l.Holder()).Msg("poller lease lost or not renewed in time: stepping down before it can expire")
		}
		cancel()
		termErr = <-done
		ended = true
	}
	if ctx.Err() != nil || termErr != nil {
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
		if err := l.Release(rctx); err != nil {
			l.s.log.Debug().Err(err).Msg("poller lease: could not give the lease up; it expires by itself")
		}
		rcancel()
	}
	l.mu.Lock()
	l.held = false
	l.mu.Unlock()
	l.notify(false)
	if ctx.Err() != nil {
		return nil
	}
	return termErr
}

// notify tells Config.OnLease the current role and holder.
func (l *Lease) notify(holding bool) {
	if f := l.s.cfg.OnLease; f != nil {
		f(holding, l.Holder())
	}
}
