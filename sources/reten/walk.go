package reten

import (
	"errors"
	"fmt"
	"hash/maphash"
	"net/http"

	"github.com/reten/reten-relay/schema"
)

// record takes in a fetched page: it counts it, moves the end and the limit, and checks it
// against what the walk has seen. An error fails the listing. Call with mu held.
func (w *walk) record(p int, page Page) error {
	n := len(page.Tasks)
	w.sum.Pages++
	w.sum.Tasks += n
	op := fmt.Sprintf("list tasks page %d", p)
	// A full page whose ids repeat another page's, in order, is Reten ignoring "page" (or
	// a proxy caching it): walking on would never end. A real list never does it.
	if n >= w.size && n >= 2 {
		h := idsHash(w.seed, page.Tasks)
		if q, dup := w.hashes[h]; dup {
			return rejected(op, fmt.Errorf("%w: page %d repeats page %d (does Reten ignore \"page\"?)", ErrBadResponse, p, q))
		}
		w.hashes[h] = p
	}
	if (n < w.size && !w.noMeta || n == 0) && (w.end == 0 || p < w.end) {
		w.end = p
	}
	if m := page.Meta; m != nil && !w.noMeta {
		if m.Total > w.maxTasks {
			return tooMany(op, fmt.Sprintf("meta.total is %d", m.Total), w.maxTasks)
		}
		// Only noted: the docs do not show meta, and a page number counted from 0 would
		// be no reason to fail. Ignoring "page" is caught by the repeated pages.
		if m.Page != 0 && m.Page != p {
			w.note(fmt.Sprintf("page %d says it is page %d", p, m.Page))
		}
		if m.Total != w.sum.Total {
			w.note(fmt.Sprintf("page %d reports %d tasks in total, page 1 reported %d", p, m.Total, w.sum.Total))
		}
		// Later pages may see a longer list: walk on to where they say it ends.
		w.limit = max(w.limit, w.pagesFor(m))
		// A page and its meta come from one answer, so churn between pages cannot make
		// them disagree; an answer whose items do not fit its own total is not believed.
		switch {
		case m.Total < (p-1)*w.size+n:
			w.void(fmt.Sprintf("page %d holds %d tasks, more than its meta.total %d allows", p, n, m.Total))
		case n < w.size && !endAgrees(p, n, w.size, m.Total):
			w.void(fmt.Sprintf("page %d holds %d tasks, but its meta.total %d puts the end elsewhere", p, n, m.Total))
		}
		// A full page where the metas say the list ends: only a short or empty page
		// proves the end, so one more page is asked for.
		if n >= w.size && p >= w.limit {
			w.limit = p + 1
		}
	}
	if n > 0 && p > w.maxPages() || w.sum.Tasks > w.maxTasks {
		return tooMany(op, fmt.Sprintf("%d pages, %d tasks and no end", p, w.sum.Tasks), w.maxTasks)
	}
	if w.progress != nil {
		total := w.last()
		if w.noMeta {
			total = 0
		}
		w.progress(w.sum.Pages, total)
	}
	return nil
}

// pagesFor is how many pages a meta announces: meta.totalPages, but never more than its
// meta.total needs (a lying totalPages cannot make the walk long).
func (w *walk) pagesFor(m *Meta) int {
	n := ceilDiv(m.Total, w.size)
	if m.TotalPages > 0 && m.TotalPages < n {
		n = m.TotalPages
	}
	return max(n, 1)
}

// endAgrees tells whether a short page p of n items sits where its own meta.total puts
// the end of the list. Page and meta come from one answer, so churn between pages cannot
// break this; an answer that breaks it is not the end of the list it describes.
func endAgrees(p, n, size, total int) bool {
	if n == 0 {
		return total <= (p-1)*size
	}
	return total == (p-1)*size+n
}

// idsHash hashes a page's ids in order: each id with maphash (AES-based, several bytes a
// cycle where byte-wise FNV was the costliest part of recording a page), chained.
func idsHash(seed maphash.Seed, tasks []schema.Task) uint64 {
	h := uint64(14695981039346656037)
	for _, t := range tasks {
		h = (h ^ maphash.String(seed, t.ID)) * 1099511628211
	}
	return h
}

func isTransient(err error) bool { return errors.Is(err, schema.ErrTransient) }

func rejected(op string, err error) error {
	return &Error{Op: op, Class: schema.ErrRejected, StatusCode: http.StatusOK, Permission: PermissionViewActivities, Err: err}
}

func tooMany(op, detail string, maxTasks int) error {
	return rejected(op, fmt.Errorf("%w: %s, the maximum (tasks.max_tasks) is %d", schema.ErrTooManyTasks, detail, maxTasks))
}
