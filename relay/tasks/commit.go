package tasks

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/reten/reten-relay/relay"
)

// chunker commits a walk's plans one at a time in the background, so the walk goes on
// while a chunk is encoded, routed and written; the index and the counters learn of a
// chunk only once it is durable, on the walk's goroutine (wait).
type chunker struct {
	p      *Poller
	walk   *walk // nil: nothing to forget
	ctx    context.Context
	router relay.Router
	start  time.Time
	rep    *CycleReport
	done   chan chunkResult // nil when no chunk is in flight
}

type chunkResult struct {
	pl       *plan
	events   []OutboxEvent
	unrouted int
	err      error
}

// submit waits for the chunk in flight and, while Run's drainers publish, for the sinks to
// work off their backlog; then it starts writing pl. The backlog is a chunk's messages
// (Config.ChunkSize): without the wait a first sync commits faster than a broker confirms
// and the outbox holds the whole tenant, a million events in the state file, in the page
// cache and mapped into the process. With it the outbox stays within two chunks and the
// pages freed by acknowledged messages are reused.
func (c *chunker) submit(pl *plan) error {
	if err := c.wait(); err != nil {
		return err
	}
	if c.p.background.Load() {
		for _, d := range c.p.drains {
			waiting := func(pending int) {
				c.p.log.Debug().Str("sink", d.name).Int("waiting", pending).
					Msg("listing waits for the sink to confirm its backlog")
			}
			if err := d.waitBelow(c.ctx, c.p.cfg.ChunkSize, waiting); err != nil {
				return err
			}
		}
	}
	if len(pl.updates) >= c.p.cfg.ChunkSize/2 {
		c.p.gc.raise() // a large listing
	}
	done := make(chan chunkResult, 1)
	c.done = done
	go func() {
		began := time.Now()
		events, unrouted, err := c.p.write(c.ctx, pl, c.router, c.start)
		if err == nil && len(pl.updates) > 0 {
			c.p.log.Debug().Int("tasks", len(pl.updates)).Int("events", len(events)).
				Dur("took", time.Since(began)).Msg("chunk committed")
		}
		done <- chunkResult{pl: pl, events: events, unrouted: unrouted, err: err}
	}()
	return nil
}

// wait waits for the chunk in flight and applies it.
func (c *chunker) wait() error {
	if c.done == nil {
		return nil
	}
	r := <-c.done
	c.done = nil
	if r.err != nil {
		return r.err
	}
	c.p.applied(r.pl, r.events, r.unrouted, c.rep)
	if r.pl.more { // a chunk always holds tasks, so it was committed: maybe as a run
		c.p.runsLeft.Store(true)
	}
	if c.walk != nil {
		// The index has these tasks now, marked as seen by this walk, and tells a task
		// listed again: the walk need not remember them (a million ids in a first sync).
		for _, u := range r.pl.updates {
			delete(c.walk.seenNew, u.ID)
		}
	}
	return nil
}

// write encodes, routes and commits a plan (nothing when it changes nothing).
func (p *Poller) write(ctx context.Context, pl *plan, router relay.Router, start time.Time) ([]OutboxEvent, int, error) {
	if len(pl.updates) == 0 && len(pl.drop) == 0 && pl.meta == p.meta {
		return nil, 0, nil
	}
	pl.sortUpdates()
	events, unrouted, err := p.buildEvents(ctx, pl, router, start.UTC().Truncate(time.Millisecond))
	if err != nil {
		return nil, 0, err
	}
	c := Commit{Entries: pl.updates, Drop: pl.drop, Events: events, Meta: pl.meta, More: pl.more}
	if err := p.cfg.Store.Commit(ctx, c); err != nil {
		return nil, 0, fmt.Errorf("commit snapshot and outbox: %w", err)
	}
	// The bytes are in the store now: let them go while the walk fills the next chunk
	// (a chunk's tasks and events are ~50 MB that would otherwise live until it is applied).
	for i := range events {
		events[i].Body = nil
		for j := range events[i].Targets {
			events[i].Targets[j].Body = nil
		}
	}
	for i := range pl.updates {
		pl.updates[i].Published = nil
	}
	pl.changes = nil
	return events, unrouted, nil
}

// applied makes a committed plan the new index and counts its events, then wakes the
// background drainers.
func (p *Poller) applied(pl *plan, events []OutboxEvent, unrouted int, rep *CycleReport) {
	rep.Created, rep.Updated, rep.Deleted = rep.Created+pl.created, rep.Updated+pl.updated, rep.Deleted+pl.deleted
	rep.Unrouted += unrouted
	if m := p.cfg.Metrics; m != nil && unrouted > 0 {
		m.Unrouted.Add(float64(unrouted))
	}
	p.idx.apply(pl)
	p.meta = pl.meta
	perSink := map[string]int{}
	for _, ev := range events {
		for _, t := range ev.Targets {
			perSink[t.Sink]++
		}
	}
	for _, d := range p.drains {
		if n := perSink[d.name]; n > 0 {
			d.mu.Lock()
			if d.pending == 0 {
				d.lastProgress = p.cfg.Now() // waiting starts now
			}
			d.pending += n
			d.mu.Unlock()
			if p.background.Load() {
				d.wake()
			}
		}
	}
	p.setPending()
}

// compactor is a store that can give its free space back (relay/state.Store).
type compactor interface {
	CompactIfMostlyFree(ctx context.Context) (before, after int64, err error)
}

// bigCycle is how many events make a cycle big enough to hand its garbage back to the OS.
const bigCycle = 10_000

// compact shrinks the state file when it is mostly free pages, as after a first sync
// whose events were all published, and after a big cycle returns the memory it used:
// the Go runtime would keep it for minutes, and operators read RSS. With Run's drainers
// the drainer returns it once it has published the cycle (drainLoop): here, at the end of
// a first sync's listing, the drain is still busy, and the pages handed back would only
// be faulted in again (a fifth of a first sync's page faults and 0.1-0.2 CPU-s).
func (p *Poller) compact(ctx context.Context, rep *CycleReport) {
	if rep.Created+rep.Updated+rep.Deleted >= bigCycle && !p.background.Load() {
		defer debug.FreeOSMemory()
	}
	c, ok := p.cfg.Store.(compactor)
	if !ok {
		return
	}
	before, after, err := c.CompactIfMostlyFree(ctx)
	switch {
	case err != nil:
		p.log.Warn().Err(err).Msg("state file compaction failed")
	case before > 0:
		p.log.Info().Int64("bytes_before", before).Int64("bytes_after", after).Msg("state file compacted")
	}
}
