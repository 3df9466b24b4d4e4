package reten

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/reten/reten-relay/schema"
)

// StreamTasks lists every page once and hands each page's tasks to fn as it arrives: page 1
// first, then the rest with opts.Concurrency workers, each decoding its page in one pass
// into buffers it reuses. fn's calls never overlap; the tasks slice and every Raw in it
// are valid only until fn returns (the ids stay valid).
//
// The walk is bounded whatever Reten answers: it goes up to min(meta.totalPages,
// ceil(meta.total / per_page)) pages, further only when a later page reports a larger
// total or the last one is full (one more page must show the end), and stops at the first
// short or empty page. A list larger than opts.MaxTasks, by
// its meta or by pages that never end, fails with schema.ErrTooManyTasks. Without meta it
// walks one page at a time until an empty page: a short page may only be Reten's own page
// size, smaller than per_page, and nothing else would tell. A page that repeats an earlier one (Reten
// ignoring "page"), a page of the wrong shape, or one larger than the size cap fails the
// listing with ErrRejected; so do auth failures (ErrAuth), fn's error (returned as is) and
// ctx. A page that keeps failing transiently does not: the other pages are still listed and
// the summary is not Covered, saying why.
//
// Covered means every page up to the end came back and the end agreed with the meta it
// came with. The summary is returned with errors too, counting what was listed.
func (c *Client) StreamTasks(ctx context.Context, opts schema.ListOptions, fn schema.PageFunc) (schema.ListSummary, error) {
	return newWalk(c, opts, fn).run(ctx)
}

// walk is one StreamTasks call. Its fields under mu are the state the workers share.
type walk struct {
	c        *Client
	query    map[string]string
	perPage  int // per_page sent
	size     int // the page size Reten applies (see run)
	conc     int
	maxTasks int
	progress func(done, total int)
	fn       schema.PageFunc
	fnMu     sync.Mutex
	stopped  atomic.Bool

	mu       sync.Mutex
	wake     *sync.Cond
	next     int // next page to fetch
	limit    int // last page to fetch: where the metas put the end, +1 to confirm it; the cap without meta
	end      int // first short or empty page, 0 until one came
	inFlight int
	noMeta   bool
	failed   int // lowest page that failed for good, 0 when none did
	failure  string
	fatal    error
	voided   string // why the listing cannot be covered, whatever else comes back
	noted    string // the first thing that looked odd
	sum      schema.ListSummary
	hashes   map[uint64]int // idsHash of every full page → its number
	seed     maphash.Seed
}

func newWalk(c *Client, opts schema.ListOptions, fn schema.PageFunc) *walk {
	w := &walk{c: c, query: opts.Query, perPage: opts.PageSize, conc: opts.Concurrency, maxTasks: opts.MaxTasks,
		progress: opts.Progress, fn: fn, next: 2, hashes: map[uint64]int{}, seed: maphash.MakeSeed()}
	if w.perPage <= 0 || w.perPage > MaxPageSize {
		w.perPage = MaxPageSize
	}
	w.size = w.perPage
	if w.conc <= 0 {
		w.conc = 4
	}
	if w.maxTasks <= 0 {
		w.maxTasks = schema.DefaultMaxTasks
	}
	w.wake = sync.NewCond(&w.mu)
	return w
}

func (w *walk) maxPages() int { return ceilDiv(w.maxTasks, w.size) }

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func (w *walk) run(ctx context.Context) (schema.ListSummary, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f := w.c.fetchers.get()
	defer w.c.fetchers.put(f) // after the first page was delivered
	first, err := f.fetchRetrying(ctx, w.c, 1, w.perPage, w.query)
	if err != nil {
		return w.sum, err
	}
	// The page size that counts is the one Reten applied: meta.limit, or a first page
	// longer than asked for. Otherwise every page would look short, or offsets be wrong.
	if m := first.Meta; m == nil {
		if n := len(first.Tasks); n > 0 {
			w.size = n
		}
		w.noMeta, w.conc, w.limit = true, 1, w.maxPages()+1
	} else {
		if m.Limit > 0 {
			w.size = m.Limit
		}
		w.sum.Total, w.limit = m.Total, 1
	}
	w.mu.Lock()
	err = w.record(1, first)
	w.mu.Unlock()
	if err != nil {
		return w.sum, err
	}
	if err := w.deliver(1, first.Tasks); err != nil {
		return w.sum, err
	}
	var wg sync.WaitGroup
	for range w.conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.work(ctx, cancel)
		}()
	}
	wg.Wait()
	if w.fatal != nil {
		return w.sum, w.fatal
	}
	if err := ctx.Err(); err != nil {
		return w.sum, fmt.Errorf("reten: list tasks: %w", err)
	}
	if w.noMeta {
		w.sum.Total = w.sum.Tasks
	}
	// The first reason the listing is not covered wins over a mere oddity.
	switch {
	case w.voided != "":
		w.sum.Inconsistency = w.voided
	case w.failed > 0 && w.failed <= w.last():
		w.sum.Inconsistency = w.failure
	default:
		w.sum.Covered, w.sum.Inconsistency = true, w.noted
	}
	return w.sum, nil
}

// last is the last page of the list as far as the walk knows. Call with mu held.
func (w *walk) last() int {
	if w.end > 0 && w.end < w.limit {
		return w.end
	}
	return w.limit
}

// work fetches pages until there is none left to fetch.
func (w *walk) work(ctx context.Context, cancel context.CancelFunc) {
	f := w.c.fetchers.get()
	defer w.c.fetchers.put(f)
	for {
		p, ok := w.take(ctx)
		if !ok {
			return
		}
		page, err := f.fetchRetrying(ctx, w.c, p, w.perPage, w.query)
		w.mu.Lock()
		w.inFlight--
		if err != nil {
			w.fail(ctx, p, err)
		} else if rerr := w.record(p, page); rerr != nil && w.fatal == nil {
			w.fatal = rerr
		}
		fatal := w.fatal != nil
		w.wake.Broadcast()
		w.mu.Unlock()
		if fatal {
			cancel()
			return
		}
		if err == nil && len(page.Tasks) > 0 {
			if err := w.deliver(p, page.Tasks); err != nil {
				w.mu.Lock()
				if w.fatal == nil {
					w.fatal = err
				}
				w.wake.Broadcast()
				w.mu.Unlock()
				cancel()
				return
			}
		}
	}
}

// take hands out the next page, waiting while pages in flight may still move the end.
func (w *walk) take(ctx context.Context) (int, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		switch {
		case w.fatal != nil || ctx.Err() != nil:
			return 0, false
		case w.noMeta && w.failed > 0:
			return 0, false // without meta, the end cannot be known past a missing page
		case w.next <= w.last():
			w.next++
			w.inFlight++
			return w.next - 1, true
		case w.inFlight == 0:
			return 0, false
		}
		w.wake.Wait()
	}
}

// fail records a page that could not be fetched. Call with mu held.
func (w *walk) fail(ctx context.Context, p int, err error) {
	if w.fatal != nil {
		return
	}
	if ctx.Err() != nil || !isTransient(err) {
		w.fatal = err
		return
	}
	if w.failed == 0 || p < w.failed {
		w.failed, w.failure = p, fmt.Sprintf("page %d failed: %v", p, err)
	}
}

// deliver calls fn, never concurrently and never after the listing failed.
func (w *walk) deliver(p int, tasks []schema.Task) error {
	w.fnMu.Lock()
	defer w.fnMu.Unlock()
	if w.stopped.Load() {
		return nil
	}
	if err := w.fn(p, tasks); err != nil {
		w.stopped.Store(true)
		return err
	}
	return nil
}

// note keeps the first thing that looked odd. Call with mu held.
func (w *walk) note(s string) {
	if w.noted == "" {
		w.noted = s
	}
}

// void keeps the first reason the listing cannot be covered. Call with mu held.
func (w *walk) void(s string) {
	if w.voided == "" {
		w.voided = s
	}
}
