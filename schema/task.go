package schema

import (
	"encoding/json"
	"errors"
)

// Task is one item of Reten's task list. Only the id is required; Raw keeps the item's JSON
// exactly as Reten sent it, because the diff compares and republishes it byte for byte.
type Task struct {
	ID  string
	Raw json.RawMessage
}

// ListOptions shape a full listing of the task list.
type ListOptions struct {
	// PageSize is sent as per_page. Reten's maximum is 100. Default: 100.
	PageSize int
	// Concurrency is how many pages are fetched at once after page 1. Default: 4.
	Concurrency int
	// Query holds extra query parameters (status, channel, scheduled_from, ...).
	Query map[string]string
	// Progress, when set, is called after each page with pages done and pages in total
	// (0 while the total is not known: Reten sent no meta).
	Progress func(done, total int)
	// MaxTasks bounds a listing: a list that says (meta.total) or shows (pages that do not
	// end) more tasks fails with an error wrapping ErrTooManyTasks, so that a lying or
	// broken answer cannot make a walk endless. Default: 1,000,000.
	MaxTasks int
}

// DefaultMaxTasks is ListOptions.MaxTasks when it is not set.
const DefaultMaxTasks = 1_000_000

// ErrTooManyTasks: a listing would hold more than ListOptions.MaxTasks tasks. It is a
// rejected listing (errors.Is(err, ErrRejected) too): raise tasks.max_tasks or narrow the
// query.
var ErrTooManyTasks = errors.New("the task list is larger than the configured maximum")

// TaskListing is the result of listing every page once.
type TaskListing struct {
	Tasks []Task
	// Total is meta.total of page 1, or the item count when Reten sent no meta.
	Total int
	// Pages is how many pages were fetched.
	Pages int
	// Consistent is true when every page came back, no id appeared twice, every page
	// reported the same meta.total and the item count equals it. Only a consistent listing
	// may be used to decide that a task is gone.
	Consistent bool
	// Inconsistency says why the listing is not consistent.
	Inconsistency string
}

// ResultType is one of the tenant's task result types (task-result-type-configs).
type ResultType struct {
	Code                      string `json:"code"`
	Label                     string `json:"label"`
	RequiresFutureScheduledAt bool   `json:"requiresFutureScheduledAt"`
}

// PageFunc receives the tasks of one listed page as it arrives. Calls never overlap, but
// pages may arrive in any order. Each Task.Raw is valid only until fn returns: fn copies
// what it keeps. An error from fn stops the listing and is returned by it.
type PageFunc func(page int, tasks []Task) error

// ListSummary says how a streamed listing went (see PageFunc).
type ListSummary struct {
	// Total is meta.total of page 1, or the item count when Reten sent no meta.
	Total int
	// Pages is how many pages were fetched; Tasks how many items they held.
	Pages, Tasks int
	// Covered is true when every page up to the end of the list came back: a task absent
	// from a covered listing may be suspected of being deleted (never more than suspected:
	// offset pagination skips items when others are deleted during the walk).
	Covered bool
	// Inconsistency says why the listing was not covered, or what looked odd about it.
	Inconsistency string
}
