package results

import (
	"context"
	"errors"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/reten/reten-relay/schema"
)

// loadTypes reads the tenant's result types before anything is consumed, waiting out
// transient failures and auth failures (probing every AuthProbeInterval).
func (p *Pipeline) loadTypes(ctx context.Context) error {
	b := p.newBackoff()
	for {
		err := p.refreshTypes(ctx)
		if err == nil {
			p.setHealth(true, "")
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := b.NextBackOff()
		if errors.Is(err, schema.ErrAuth) {
			reason := authReason(err)
			if p.cfg.Health == nil || p.cfg.Health.Set(HealthComponent, false, reason) {
				p.log.Error().Err(err).Msg(reason + "; consuming stays paused and the key is probed every " + p.cfg.AuthProbeInterval.String())
			}
			wait = p.cfg.AuthProbeInterval
		} else {
			p.setHealth(false, "cannot read the tenant's result types: "+err.Error())
			p.log.Warn().Err(err).Stringer("retry_in", wait).Msg("reading the tenant's result types failed")
		}
		if err := schema.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// refreshTypes re-reads the result types.
func (p *Pipeline) refreshTypes(ctx context.Context) error {
	types, err := p.cfg.Submitter.ListResultTypes(ctx)
	if err != nil {
		return err
	}
	m := make(map[string]schema.ResultType, len(types))
	for _, t := range types {
		m[t.Code] = t
	}
	p.types.Store(&m)
	p.typesMu.Lock()
	p.typesLoaded = p.cfg.Now()
	p.typesMu.Unlock()
	return nil
}

func (p *Pipeline) refreshTypesEvery(ctx context.Context) {
	t := time.NewTicker(p.cfg.ResultTypesRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := p.refreshTypes(ctx); err != nil && ctx.Err() == nil {
				p.log.Warn().Err(err).Msg("refreshing the tenant's result types failed; keeping the ones we have")
			}
		}
	}
}

// validate checks a message; a code the cached types lack triggers one refresh (at most
// every 30s) before it is declared unknown, since the tenant may have just added it.
func (p *Pipeline) validate(ctx context.Context, body []byte) (*schema.ResultMessage, *Rejection) {
	msg, rej := Validate(body, *p.types.Load(), p.cfg.Now())
	if rej == nil || rej.Reason != schema.ReasonUnknownResultType {
		return msg, rej
	}
	p.typesMu.Lock()
	due := p.cfg.Now().Sub(p.typesLoaded) >= unknownTypeRefreshEvery
	if due {
		p.typesLoaded = p.cfg.Now() // claim the refresh
	}
	p.typesMu.Unlock()
	if !due || p.refreshTypes(ctx) != nil {
		return msg, rej
	}
	return Validate(body, *p.types.Load(), p.cfg.Now())
}

func (p *Pipeline) newBackoff() *backoff.ExponentialBackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = p.cfg.Backoff.Initial
	b.MaxInterval = p.cfg.Backoff.Max
	b.MaxElapsedTime = 0 // the pipeline decides, from the first delivery
	b.Reset()
	return b
}
