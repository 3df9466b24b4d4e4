package tasks

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/reten/reten-relay/relay"
	"github.com/reten/reten-relay/schema"
)

// Poller runs the tasks pipeline. Create it with New; run it with Run, or drive single
// cycles with Cycle. Cycles never overlap.
type Poller struct {
	cfg    Config
	log    zerolog.Logger
	router atomic.Pointer[relay.Router]

	mu      sync.Mutex // held for a whole cycle
	idx     *index     // nil until loaded from the store
	meta    Meta
	pending int // events in the outbox

	health healthState
}

// CycleReport says what one cycle did.
type CycleReport struct {
	// Complete is true when the listing was complete and its changes were committed.
	Complete bool
	// Pages and Tasks are what the listing returned.
	Pages, Tasks int
	// Created, Updated and Deleted count the events this cycle committed to the outbox.
	Created, Updated, Deleted int
	// Suspected counts live tasks missing from this listing that are not deleted yet.
	Suspected int
	// HeldDeletes counts deletes the mass-delete guard held back.
	HeldDeletes int
	// Published counts outbox events the sinks confirmed during this cycle (including
	// events left over from earlier cycles); Unrouted those that matched no route.
	Published, Unrouted int
	// Duration is how long the cycle took.
	Duration time.Duration
}

// New validates cfg, applies its defaults and returns a Poller. It does not touch the
// store or the network; the first cycle loads the state.
func New(cfg Config) (*Poller, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	p := &Poller{cfg: cfg, log: cfg.Logger.With().Str("component", HealthComponent).Logger()}
	p.router.Store(&cfg.Router)
	if cfg.Health != nil {
		cfg.Health.Register(HealthComponent, "no complete poll yet")
	}
	return p, nil
}

// SetRouter replaces the router; the next cycle uses it (a running cycle keeps the one it
// started with). Safe to call at any time, e.g. on config reload. A nil router is ignored.
func (p *Poller) SetRouter(r relay.Router) {
	if r != nil {
		p.router.Store(&r)
	}
}

// Cycle runs one cycle: drain the outbox, list every page, diff, commit snapshot and events
// in one transaction, publish. An error leaves the state consistent; the next cycle picks up
// where this one stopped.
func (p *Poller) Cycle(ctx context.Context) (CycleReport, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	start := p.cfg.Now()
	var rep CycleReport
	err := p.cycle(ctx, &rep, start)
	rep.Duration = p.cfg.Now().Sub(start)
	p.record(ctx, rep, err)
	if p.cfg.OnCycle != nil {
		p.cfg.OnCycle(rep, err)
	}
	return rep, err
}

func (p *Poller) cycle(ctx context.Context, rep *CycleReport, start time.Time) error {
	if err := p.load(ctx); err != nil {
		return err
	}
	router := *p.router.Load()
	if err := p.drain(ctx, router, rep); err != nil {
		return fmt.Errorf("drain outbox before listing: %w", err)
	}
	opts := p.cfg.List
	opts.Progress = p.progress(opts.Progress)
	listing, err := p.cfg.Lister.ListAllTasks(ctx, opts)
	if err != nil {
		return fmt.Errorf("list tasks: %w", err)
	}
	rep.Pages, rep.Tasks = listing.Pages, len(listing.Tasks)
	if !listing.Consistent {
		return fmt.Errorf("%w: %s", ErrIncompleteListing, listing.Inconsistency)
	}
	pl, err := p.diff(listing.Tasks, p.meta)
	if err != nil {
		return fmt.Errorf("diff listing: %w", err)
	}
	events, err := p.buildEvents(ctx, pl, start.UTC().Truncate(time.Millisecond))
	if err != nil {
		return err
	}
	if len(pl.updates) > 0 || pl.dirty {
		c := Commit{Entries: pl.updates, Events: events, Meta: pl.meta}
		if err := p.cfg.Store.Commit(ctx, c); err != nil {
			return fmt.Errorf("commit snapshot and outbox: %w", err)
		}
		p.idx.apply(pl)
		p.meta = pl.meta
		p.pending += len(events)
	}
	rep.Complete = true
	rep.Created, rep.Updated, rep.Deleted = pl.created, pl.updated, pl.deleted
	rep.Suspected, rep.HeldDeletes = pl.suspected, pl.held
	p.health.completed(p.cfg.Now())
	if h := p.cfg.Hooks.AfterOutboxCommit; h != nil {
		h()
	}
	if err := p.drain(ctx, router, rep); err != nil {
		return fmt.Errorf("publish events: %w", err)
	}
	return nil
}

// load reads the snapshot, meta and outbox size on the first cycle.
func (p *Poller) load(ctx context.Context) error {
	if p.idx != nil {
		return nil
	}
	ix := newIndex()
	err := p.cfg.Store.LoadIndex(ctx, func(id string, e Entry) {
		ix.m[id] = &indexEntry{Entry: e}
		if !e.Deleted {
			ix.live++
		}
	})
	if err != nil {
		return fmt.Errorf("load snapshot: %w", err)
	}
	meta, err := p.cfg.Store.LoadMeta(ctx)
	if err != nil {
		return fmt.Errorf("load state meta: %w", err)
	}
	n, err := p.cfg.Store.OutboxLen(ctx)
	if err != nil {
		return fmt.Errorf("count outbox: %w", err)
	}
	p.idx, p.meta, p.pending = ix, meta, n
	p.setPending()
	p.log.Info().Int("snapshot", ix.live).Int("tombstones", len(ix.m)-ix.live).Int("outbox", n).
		Bool("synced", meta.Synced).Msg("tasks state loaded")
	return nil
}

// buildEvents encodes the plan's changes, reading the previous versions from the store.
func (p *Poller) buildEvents(ctx context.Context, pl *plan, at time.Time) ([]OutboxEvent, error) {
	var ids []string
	for _, c := range pl.changes {
		if c.op != schema.OpCreated {
			ids = append(ids, c.id)
		}
	}
	var prev map[string][]byte
	if len(ids) > 0 {
		var err error
		if prev, err = p.cfg.Store.LoadPublished(ctx, ids); err != nil {
			return nil, fmt.Errorf("load previous versions of %d tasks: %w", len(ids), err)
		}
	}
	out := make([]OutboxEvent, 0, len(pl.changes))
	for _, c := range pl.changes {
		var previous []byte
		var changed []string
		if c.op != schema.OpCreated {
			previous = prev[c.id]
		}
		if c.op == schema.OpUpdated {
			changed = changedFields(previous, c.raw)
		}
		id := eventID(p.cfg.Source, c.id, c.entry.ChangeNo, c.entry.ContentHash)
		body, err := encodeEvent(newEvent(p.cfg.Source, id, c.id, c.op, at, c.raw, previous, changed))
		if err != nil {
			return nil, err
		}
		out = append(out, OutboxEvent{TaskID: c.id, EventID: id, Op: c.op, Body: body})
	}
	return out, nil
}

// progressMinPages is the listing size from which page progress is logged.
const progressMinPages = 20

// progress logs pages done/total about every tenth of a long listing, then calls next.
func (p *Poller) progress(next func(done, total int)) func(done, total int) {
	return func(done, total int) {
		if next != nil {
			next(done, total)
		}
		step := max(total/10, 1)
		if total >= progressMinPages && (done%step == 0 || done == total) {
			p.log.Info().Int("pages_done", done).Int("pages_total", total).Msg("listing tasks")
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
	ev.Str("result", result).Int("pages", rep.Pages).Int("tasks", rep.Tasks).
		Int("created", rep.Created).Int("updated", rep.Updated).Int("deleted", rep.Deleted).
		Int("suspected", rep.Suspected).Int("deletes_held", rep.HeldDeletes).
		Int("published", rep.Published).Int("unrouted", rep.Unrouted).Int("outbox", p.pending).
		Dur("duration", rep.Duration).Msg("tasks cycle")
}

func (p *Poller) setPending() {
	if p.cfg.Metrics != nil {
		p.cfg.Metrics.OutboxPending.Set(float64(p.pending))
	}
}
