package reten

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"

	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/schema/jsonscan"
)

// commerceField is the task item's field the list endpoint filters by as
// external_commerce_id (responses are camelCase, queries snake_case: reten-api.md §2).
const commerceField = "commerceExternalId"

// errFound stops a check's listing at the task it looks for.
var errFound = errors.New("task found")

// TaskExists asks Reten, with a query filtered by the task's external_commerce_id (its
// commerceExternalId), whether the task (its JSON as last seen) is still listed. checked is
// false when the task carries nothing to filter by; then exists says nothing. It is
// TaskListed without a query.
func (c *Client) TaskExists(ctx context.Context, task schema.Task) (exists, checked bool, err error) {
	return c.TaskListed(ctx, task, nil)
}

// TaskListed is TaskExists within the poller's own query (tasks.query: status, channel,
// ...): a task that left the filtered list is gone for the poller even though Reten still
// has it. A filtered list of one page is one answer, so churn elsewhere cannot shift the
// task out of it; a longer one must miss the task in two covered walks. A walk that is not
// covered is an ErrTransient error: nothing was proven.
func (c *Client) TaskListed(ctx context.Context, task schema.Task, query map[string]string) (exists, checked bool, err error) {
	commerce, ok := topLevelString(task.Raw, commerceField)
	if !ok {
		return false, false, nil
	}
	q := maps.Clone(query)
	if q == nil {
		q = map[string]string{}
	}
	if v, set := q["external_commerce_id"]; set && v != commerce {
		return false, true, nil // its commerce changed: it cannot be in the poller's list
	}
	q["external_commerce_id"] = commerce
	op := fmt.Sprintf("check task %s", task.ID)
	for walks := 1; ; walks++ {
		sum, err := c.StreamTasks(ctx, schema.ListOptions{Query: q, Concurrency: 2}, func(_ int, tasks []schema.Task) error {
			for _, t := range tasks {
				if t.ID == task.ID {
					return errFound
				}
			}
			return nil
		})
		switch {
		case errors.Is(err, errFound):
			return true, true, nil
		case err != nil:
			return false, false, fmt.Errorf("reten: %s: %w", op, err)
		case !sum.Covered:
			return false, false, &Error{Op: op, Class: schema.ErrTransient, Permission: PermissionViewActivities,
				Err: fmt.Errorf("the filtered listing was not covered: %s", sum.Inconsistency)}
		case sum.Pages <= 1 || walks == 2:
			return false, true, nil
		}
	}
}

// topLevelString reads a top-level string member of a JSON object, or false.
func topLevelString(raw []byte, key string) (string, bool) {
	s := jsonscan.Scanner{Data: raw}
	i := s.WS(0)
	if i >= len(raw) || raw[i] != '{' {
		return "", false
	}
	var (
		val   string
		found bool
	)
	_, err := s.Object(i, 1, func(k []byte, at int) (int, error) {
		if string(k) != key || at >= len(raw) || raw[at] != '"' {
			found = found && string(k) != key
			return s.Value(at, 1)
		}
		end, esc, err := s.Str(at)
		if err != nil {
			return end, err
		}
		val, found = string(raw[at+1:end-1]), true
		if esc && json.Unmarshal(raw[at:end], &val) != nil {
			found = false
		}
		return end, nil
	})
	return val, err == nil && found && val != ""
}
