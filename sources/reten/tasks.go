package reten

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
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
	q := url.Values{}
	for k, v := range query {
		q.Set(k, v)
	}
	q.Set("page", strconv.Itoa(page))
	q.Set("per_page", strconv.Itoa(perPage))
	op := fmt.Sprintf("list tasks page %d", page)
	_, data, err := c.do(ctx, call{op: op, method: http.MethodGet, path: tasksPath, query: q, permission: PermissionViewActivities, limit: maxPageBytes})
	if err != nil {
		return Page{}, err
	}
	p, err := DecodePage(data)
	if err != nil {
		return Page{}, &Error{Op: op, Class: schema.ErrRejected, StatusCode: http.StatusOK, Permission: PermissionViewActivities, Body: c.scrub(trim(string(data), maxErrorBody)), Err: err}
	}
	if page > 1 && len(p.Tasks) == 0 && p.Meta != nil && page > p.Meta.TotalPages {
		return p, &Error{Op: op, Class: schema.ErrRejected, StatusCode: http.StatusOK, Permission: PermissionViewActivities,
			Err: fmt.Errorf("%w: totalPages is %d", ErrPageBeyondEnd, p.Meta.TotalPages)}
	}
	return p, nil
}

// listPage is ListTasksPage with retries of transient failures, honouring Retry-After.
func (c *Client) listPage(ctx context.Context, page, perPage int, query map[string]string) (Page, error) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 200 * time.Millisecond
	b.MaxInterval = 5 * time.Second
	budget := min(2*c.timeout, maxPageRetry)
	b.MaxElapsedTime = budget
	b.Reset()
	for {
		p, err := c.ListTasksPage(ctx, page, perPage, query)
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

// ListAllTasks lists every page once: page 1 first, then the rest concurrently (up to
// opts.Concurrency) using meta.totalPages, or one after another until a short page when
// Reten sends no meta. A page failing for good returns the error. A listing that does not
// add up (a duplicate id, pages that disagree on meta.total, an item count that differs
// from it, a page past the end) comes back with Consistent false and the reason: offset
// pagination shifts items while the list changes, and only a consistent listing may be
// used to decide that a task is gone.
func (c *Client) ListAllTasks(ctx context.Context, opts schema.ListOptions) (schema.TaskListing, error) {
	perPage := opts.PageSize
	if perPage <= 0 || perPage > MaxPageSize {
		perPage = MaxPageSize
	}
	conc := max(opts.Concurrency, 1)
	if opts.Concurrency <= 0 {
		conc = 4
	}
	first, err := c.listPage(ctx, 1, perPage, opts.Query)
	if err != nil {
		return schema.TaskListing{}, err
	}
	if first.Meta == nil {
		return c.listWithoutMeta(ctx, first, perPage, opts)
	}
	totalPages := max(first.Meta.TotalPages, 1)
	pages := make([]Page, totalPages)
	pages[0] = first
	progress(opts, 1, totalPages)
	var inconsistency string
	if totalPages > 1 {
		inconsistency, err = c.fetchRest(ctx, pages, perPage, conc, opts)
		if err != nil {
			return schema.TaskListing{}, err
		}
	}
	l := merge(pages, first.Meta.Total)
	if inconsistency != "" && l.Consistent {
		l.Consistent, l.Inconsistency = false, inconsistency
	}
	return l, nil
}

// fetchRest fetches pages[1:] with conc workers. It returns a reason when a page shows the
// listing shifted, or the first error that is not about the listing's shape.
func (c *Client) fetchRest(ctx context.Context, pages []Page, perPage, conc int, opts schema.ListOptions) (string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu            sync.Mutex
		firstErr      error
		inconsistency string
		done          = 1
		next          = make(chan int)
		wg            sync.WaitGroup
	)
	for range min(conc, len(pages)-1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				p, err := c.listPage(ctx, i+1, perPage, opts.Query)
				mu.Lock()
				switch {
				case errors.Is(err, ErrPageBeyondEnd):
					inconsistency = fmt.Sprintf("page %d is past the end: the list shrank during the walk", i+1)
				case err != nil && firstErr == nil:
					firstErr = err
					cancel()
				case err == nil:
					pages[i] = p
					done++
					progress(opts, done, len(pages))
				}
				mu.Unlock()
			}
		}()
	}
	for i := 1; i < len(pages) && ctx.Err() == nil; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	return inconsistency, firstErr
}

// listWithoutMeta walks pages one by one until a short page, for answers without meta.
func (c *Client) listWithoutMeta(ctx context.Context, first Page, perPage int, opts schema.ListOptions) (schema.TaskListing, error) {
	pages := []Page{first}
	last := first
	for len(last.Tasks) == perPage {
		p, err := c.listPage(ctx, len(pages)+1, perPage, opts.Query)
		if err != nil {
			return schema.TaskListing{}, err
		}
		pages = append(pages, p)
		progress(opts, len(pages), 0)
		last = p
	}
	n := 0
	for _, p := range pages {
		n += len(p.Tasks)
	}
	return merge(pages, n), nil
}

// merge concatenates the pages and checks that they add up to total.
func merge(pages []Page, total int) schema.TaskListing {
	l := schema.TaskListing{Total: total, Pages: len(pages), Consistent: true}
	n := 0
	for _, p := range pages {
		n += len(p.Tasks)
	}
	l.Tasks = make([]schema.Task, 0, n)
	seen := make(map[string]struct{}, n)
	for i, p := range pages {
		if p.Meta != nil && p.Meta.Total != total && l.Consistent {
			l.Consistent = false
			l.Inconsistency = fmt.Sprintf("page %d reports %d tasks in total, page 1 reported %d", i+1, p.Meta.Total, total)
		}
		for _, t := range p.Tasks {
			if _, dup := seen[t.ID]; dup {
				if l.Consistent {
					l.Consistent = false
					l.Inconsistency = fmt.Sprintf("task %s appears twice (page %d)", t.ID, i+1)
				}
				continue
			}
			seen[t.ID] = struct{}{}
			l.Tasks = append(l.Tasks, t)
		}
	}
	if l.Consistent && len(l.Tasks) != total {
		l.Consistent = false
		l.Inconsistency = fmt.Sprintf("listed %d tasks, meta.total says %d", len(l.Tasks), total)
	}
	return l
}

func progress(opts schema.ListOptions, done, total int) {
	if opts.Progress != nil {
		opts.Progress(done, total)
	}
}
