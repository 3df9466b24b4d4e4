package tasks

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/reten/reten-relay/relay"
)

// Poller runs the tasks pipeline. Create it with New; run it with Run, or drive single
// cycles with Cycle. Cycles never overlap.
type Poller struct {
	cfg    Config
	log    zerolog.Logger
	router atomic.Pointer[relay.Router]
	drains []*sinkDrain // one per sink, sorted by name

	mu          sync.Mutex    // held for a whole cycle
	settledLive atomic.Uint64 // the live heap after the last settleMemory
	idx         *index        // nil until loaded from the store
	// stateLoaded is closed once idx and the queue sizes are loaded (Run's drainers wait).
	stateLoaded chan struct{}
	meta        Meta
	background  atomic.Bool // Run's drainers publish; Cycle only wakes them
	cycling     atomic.Bool // a cycle runs (drainers leave the memory to it)
	// runsLeft: a chunked listing left its new tasks in the store's runs (mergeRuns).
	runsLeft atomic.Bool

	health   healthState
	progress progress
	gc       gcBoost
}

// CycleReport says what one cycle did.
type CycleReport struct {
	// Complete is true when the listing covered every page and its changes were committed.
	Complete bool
	// Pages and Tasks are what the listing returned.
	Pages, Tasks int
	// Created, Updated and Deleted count the events this cycle committed to the outbox
	// (an incomplete listing commits created and updated too).
	Created, Updated, Deleted int
	// Suspected counts live tasks missing from this listing that are not deleted yet.
	Suspected int
	// Cleared counts suspects a filtered query found still listed.
	Cleared int
	// HeldDeletes counts deletes the mass-delete guard held back.
	HeldDeletes int
	// Published counts messages the sinks confirmed during this cycle (including ones left
	// over from earlier cycles; zero while Run's drainers publish); Unrouted counts events
	// that matched no route.
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
	p := &Poller{cfg: cfg, log: cfg.Logger.With().Str("component", HealthComponent).Logger(), stateLoaded: make(chan struct{})}
	p.router.Store(&cfg.Router)
	for name, s := range cfg.Sinks {
		p.drains = append(p.drains, &sinkDrain{name: name, sink: s, kick: make(chan struct{}, 1)})
	}
	sort.Slice(p.drains, func(i, j int) bool { return p.drains[i].name < p.drains[j].name })
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

// Cycle runs one cycle: list every page, diffing each as it arrives; commit snapshot and
// routed events in one transaction; publish. Events of earlier cycles still queued for a
// sink go out first, in order; a sink that is down does not stop the listing or the other
// sinks. An error leaves the state consistent; the next cycle picks up where this one
// stopped.
func (p *Poller) Cycle(ctx context.Context) (CycleReport, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cycling.Store(true)
	defer p.cycling.Store(false)
	defer p.gc.restore()
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
	p.mergeRuns(ctx) // runs left by a stopped relay, or when no drain went idle since a chunked listing
	var drainErr error
	if !p.background.Load() {
		n, err := p.drainAll(ctx)
		rep.Published += n
		drainErr = err
	}
	if err := p.outboxFull(); err != nil {
		return errors.Join(err, drainErr)
	}
	router := *p.router.Load()
	w := newWalk(p.idx, p.cfg.ChunkSize)
	emitCreated := p.meta.Synced || p.cfg.EmitInitial
	// A large listing (a first sync) is committed as it goes, in chunks: memory stays
	// bounded and the sinks publish while the walk goes on. Every chunk is facts: tasks
	// created or changed.
	chunks := &chunker{p: p, walk: w, ctx: ctx, router: router, start: start, rep: rep}
	w.flush = func() error {
		pl := w.plan(p.meta, emitCreated)
		pl.more = true
		return chunks.submit(pl)
	}
	opts := p.cfg.List
	opts.Progress = p.progress.callback(p, opts.Progress)
	p.progress.begin(p.cfg.Now())
	sum, listErr := p.cfg.Lister.StreamTasks(ctx, opts, w.page)
	rep.Pages, rep.Tasks = sum.Pages, w.listed
	if err := chunks.wait(); err != nil {
		return errors.Join(err, drainErr)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	covered := listErr == nil && sum.Covered
	if listErr == nil && !sum.Covered {
		listErr = fmt.Errorf("%w: %s", ErrIncompleteListing, sum.Inconsistency)
	}
	if listErr != nil {
		listErr = fmt.Errorf("list tasks: %w", listErr)
	}
	// Tasks seen are facts even when the listing did not cover every page.
	pl := w.plan(p.meta, emitCreated)
	if covered {
		p.planDeletes(ctx, w, pl)
		pl.meta.Synced = true
	}
	if err := chunks.submit(pl); err != nil {
		return errors.Join(err, listErr, drainErr)
	}
	if err := chunks.wait(); err != nil {
		return errors.Join(err, listErr, drainErr)
	}
	if covered && w.scattered() {
		p.idx.relayout()
	}
	rep.Suspected, rep.HeldDeletes, rep.Cleared = pl.suspected, pl.held, pl.cleared
	if drainErr != nil {
		p.log.Debug().Err(drainErr).Msg("a sink could not be drained before listing")
	}
	rep.Complete = covered
	if covered {
		p.health.completed(p.cfg.Now())
	}
	if h := p.cfg.Hooks.AfterOutboxCommit; h != nil {
		h()
	}
	if p.background.Load() {
		p.gc.restore()
		p.compact(ctx, rep)
		if !p.drainsBusy() {
			// Otherwise the drainer settles once it has published this cycle (drainLoop):
			// a first sync's drain is still busy when its listing ends, and a forced
			// collection and the pages handed back now would be faulted in again by it
			// (0.1 CPU-s of a 100,000-task first sync).
			p.mergeRuns(ctx)
			p.settleMemory()
		}
		return listErr
	}
	n, err := p.drainAll(ctx)
	rep.Published += n
	p.gc.restore()
	if err != nil {
		return errors.Join(listErr, fmt.Errorf("publish events: %w", err))
	}
	p.compact(ctx, rep)
	p.mergeRuns(ctx)
	p.settleMemory()
	return listErr
}

// runMerger is a store that keeps a chunked listing's new tasks aside and merges them
// on request (state.Store's runs).
type runMerger interface {
	MergeRuns(ctx context.Context) error
}

// mergeRuns has the store merge what a chunked listing kept aside, once its events are
// published: merged in the listing's last commit, it held back the publishing of the
// last chunk. A failed merge is left to the store's next commit that needs it.
func (p *Poller) mergeRuns(ctx context.Context) {
	m, ok := p.cfg.Store.(runMerger)
	if !ok || !p.runsLeft.Swap(false) {
		return
	}
	began := time.Now()
	if err := m.MergeRuns(ctx); err != nil {
		if ctx.Err() == nil {
			p.log.Warn().Err(err).Msg("could not merge the first sync's snapshot runs; the next change merges them")
		}
		return
	}
	p.log.Debug().Dur("took", time.Since(began)).Msg("snapshot runs merged")
}

// settleMemory keeps the heap goal near twice the heap a steady cycle needs. A first
// sync, a mass change, a compaction or a large drain leave a heap goal as high as the
// live heap they had at their last collection, and steady cycles then fill the heap with
// garbage up to it: a 100,000-task relay sat at 130-180 MB RSS for minutes with 17 MB
// live. When the goal is more than three times the live heap of the last settling (plus
// 16 MiB), forced collections hand the garbage back to the OS and reset the goal.
func (p *Poller) settleMemory() {
	sample := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 || sample[0].Value.Uint64() <= 3*p.settledLive.Load()+16<<20 {
		return
	}
	// Two collections: the first only moves what sync.Pools hold (bbolt's page pool held
	// 65 MB after a compaction) to their victim caches, the second frees it.
	runtime.GC()
	debug.FreeOSMemory()
	sample[0].Name = "/gc/heap/live:bytes"
	metrics.Read(sample)
	if sample[0].Value.Kind() == metrics.KindUint64 {
		p.settledLive.Store(sample[0].Value.Uint64())
	}
}

// drainsBusy reports whether messages wait for any sink.
func (p *Poller) drainsBusy() bool {
	for _, d := range p.drains {
		if n, _, _ := d.status(); n > 0 {
			return true
		}
	}
	return false
}

// outboxFull refuses to list while a sink's queue is over the limit, so an outage cannot
// grow the state file without bound.
func (p *Poller) outboxFull() error {
	for _, d := range p.drains {
		if n, _, _ := d.status(); n > p.cfg.OutboxLimit {
			return fmt.Errorf("%w: sink %s has %d messages waiting (limit %d)", ErrOutboxFull, d.name, n, p.cfg.OutboxLimit)
		}
	}
	return nil
}

// load reads the snapshot, meta and queue sizes on the first cycle.
func (p *Poller) load(ctx context.Context) error {
	if p.idx != nil {
		return nil
	}
	ix := newIndex()
	err := p.cfg.Store.LoadIndex(ctx, func(id string, e Entry) { ix.put(id, e) })
	if err != nil {
		return fmt.Errorf("load snapshot: %w", err)
	}
	meta, err := p.cfg.Store.LoadMeta(ctx)
	if err != nil {
		return fmt.Errorf("load state meta: %w", err)
	}
	p.meta = meta
	p.runsLeft.Store(true) // a relay stopped during a chunked listing may have left runs
	if err := p.migrateOutbox(ctx); err != nil {
		return err
	}
	pending, err := p.cfg.Store.Pending(ctx)
	if err != nil {
		return fmt.Errorf("count outbox: %w", err)
	}
	total := 0
	for _, d := range p.drains {
		d.mu.Lock()
		d.pending, d.lastProgress = pending[d.name], p.cfg.Now()
		d.mu.Unlock()
		total += pending[d.name]
	}
	for name, n := range pending {
		if _, ok := p.cfg.Sinks[name]; !ok && n > 0 {
			p.log.Warn().Str("sink", name).Int("messages", n).
				Msg("outbox holds messages for a sink that is not configured any more: they wait until it is")
		}
	}
	p.idx = ix
	close(p.stateLoaded)
	p.setPending()
	p.log.Info().Int("snapshot", ix.live).Int("tombstones", ix.ids-ix.live).Int("outbox", total).
		Bool("synced", meta.Synced).Msg("tasks state loaded")
	return nil
}

func (p *Poller) setPending() {
	if p.cfg.Metrics == nil {
		return
	}
	total := 0
	for _, d := range p.drains {
		n, _, _ := d.status()
		total += n
	}
	p.cfg.Metrics.OutboxPending.Set(float64(total))
}
