package reten

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/reten/reten-relay/schema"
)

const tasksPath = "/api/integration/activities/tasks"

// MaxPageSize is Reten's largest per_page.
const MaxPageSize = 100

// maxPageRetry bounds how long one page is retried inside a listing: with many pages, a
// single flaky page should not throw the whole listing away, but a listing must not
// stretch so long that it stops being one snapshot. The budget is two request timeouts,
// at most this.
const maxPageRetry = 30 * time.Second

// ListTasksPage fetches one page of the task list. query holds extra filters (status,
// channel, scheduled_from, ...). A page past meta.totalPages is an error wrapping
// ErrPageBeyondEnd.
func (c *Client) ListTasksPage(ctx context.Context, page, perPage int, query map[string]string) (Page, error) {
	var f pageFetcher
	p, err := f.fetch(ctx, c, page, perPage, query)
	if err != nil {
		return p, err
	}
	if page > 1 && len(p.Tasks) == 0 && p.Meta != nil && page > p.Meta.TotalPages {
		return p, &Error{Op: fmt.Sprintf("list tasks page %d", page), Class: schema.ErrRejected, StatusCode: http.StatusOK, Permission: PermissionViewActivities,
			Err: fmt.Errorf("%w: totalPages is %d", ErrPageBeyondEnd, p.Meta.TotalPages)}
	}
	return p, nil
}

// pageFetcher fetches and decodes pages into buffers it reuses: the tasks of its last page
// (and their Raw) stay valid until its next fetch. One per walk worker.
type pageFetcher struct {
	buf []byte
	dec pageDecoder
}

// fetcherPool keeps the page fetchers of finished walks, so that each listing does not
// grow a new set of page buffers: an unchanged listing then allocates almost nothing.
type fetcherPool struct {
	mu   sync.Mutex
	idle []*pageFetcher
}

// maxIdleFetchers bounds the fetchers kept (each holds at most maxKeptBuffer).
const maxIdleFetchers = 64

func (fp *fetcherPool) get() *pageFetcher {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	if n := len(fp.idle); n > 0 {
		f := fp.idle[n-1]
		fp.idle = fp.idle[:n-1]
		return f
	}
	return &pageFetcher{}
}

func (fp *fetcherPool) put(f *pageFetcher) {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	if len(fp.idle) < maxIdleFetchers {
		fp.idle = append(fp.idle, f)
	}
}

// maxKeptBuffer: a fetcher does not keep a buffer larger than this between pages, so one
// odd page does not pin megabytes for the rest of the walk.
const maxKeptBuffer = 1 << 20

// fetch gets one page once.
func (f *pageFetcher) fetch(ctx context.Context, c *Client, page, perPage int, query map[string]string) (Page, error) {
	q := url.Values{}
	for k, v := range query {
		q.Set(k, v)
	}
	q.Set("page", strconv.Itoa(page))
	q.Set("per_page", strconv.Itoa(perPage))
	op := fmt.Sprintf("list tasks page %d", page)
	_, data, err := c.do(ctx, call{op: op, method: http.MethodGet, path: tasksPath, query: q, permission: PermissionViewActivities, limit: maxPageBytes, buf: f.buf})
	if cap(data) <= maxKeptBuffer {
		f.buf = data[:0]
	} else {
		f.buf = nil
	}
	if err != nil {
		return Page{}, err
	}
	p, err := f.dec.decode(data)
	if err != nil {
		return Page{}, &Error{Op: op, Class: schema.ErrRejected, StatusCode: http.StatusOK, Permission: PermissionViewActivities, Body: c.scrub(trim(string(data), maxErrorBody)), Err: err}
	}
	return p, nil
}

// fetchRetrying is fetch with retries of transient failures, honouring Retry-After.
func (f *pageFetcher) fetchRetrying(ctx context.Context, c *Client, page, perPage int, query map[string]string) (Page, error) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 200 * time.Millisecond
	b.MaxInterval = 5 * time.Second
	budget := min(2*c.timeout, maxPageRetry)
	b.MaxElapsedTime = budget
	b.Reset()
	for {
		p, err := f.fetch(ctx, c, page, perPage, query)
		if err == nil || !errors.Is(err, schema.ErrTransient) {
			return p, err
		}
		wait := b.NextBackOff()
		if wait == backoff.Stop {
			return p, err
		}
		var re *Error
		if errors.As(err, &re) && re.RetryAfter > wait {
			wait = min(re.RetryAfter, budget)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return p, fmt.Errorf("reten: list tasks page %d: %w", page, ctx.Err())
		case <-t.C:
		}
	}
}

// ListAllTasks lists every page once (see StreamTasks) and returns the tasks in list order
// with copies of their raw JSON. The listing is Consistent when it was covered, no id
// appeared twice, every page reported the same meta.total and the item count equals it:
// offset pagination shifts items while the list changes. It holds the whole list in
// memory; StreamTasks does not.
func (c *Client) ListAllTasks(ctx context.Context, opts schema.ListOptions) (schema.TaskListing, error) {
	pages := map[int][]schema.Task{}
	sum, err := c.StreamTasks(ctx, opts, func(page int, tasks []schema.Task) error {
		n := 0
		for _, t := range tasks {
			n += len(t.Raw)
		}
		arena := make([]byte, 0, n) // one copy per page, not one per task
		kept := make([]schema.Task, len(tasks))
		for i, t := range tasks {
			arena = append(arena, t.Raw...)
			kept[i] = schema.Task{ID: t.ID, Raw: arena[len(arena)-len(t.Raw) : len(arena) : len(arena)]}
		}
		pages[page] = kept
		return nil
	})
	if err != nil {
		return schema.TaskListing{}, err
	}
	l := schema.TaskListing{Total: sum.Total, Pages: sum.Pages, Consistent: sum.Covered, Inconsistency: sum.Inconsistency}
	if l.Consistent && l.Inconsistency != "" {
		l.Consistent = false
	}
	l.Tasks = make([]schema.Task, 0, sum.Tasks)
	seen := make(map[string]struct{}, sum.Tasks)
	for _, p := range slices.Sorted(maps.Keys(pages)) {
		for _, t := range pages[p] {
			if _, dup := seen[t.ID]; dup {
				if l.Consistent {
					l.Consistent, l.Inconsistency = false, fmt.Sprintf("task %s appears twice (page %d)", t.ID, p)
				}
				continue
			}
			seen[t.ID] = struct{}{}
			l.Tasks = append(l.Tasks, t)
		}
	}
	if l.Consistent && len(l.Tasks) != l.Total {
		l.Consistent = false
		l.Inconsistency = fmt.Sprintf("listed %d tasks, meta.total says %d", len(l.Tasks), l.Total)
	}
	return l, nil
}
