package reten

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/reten/reten-relay/schema"
)

const (
	resultTypesPath = "/api/integration/task-result-type-configs"
	resultsPath     = "/api/integration/activity-results/tasks"
)

// ListResultTypes returns the tenant's task result types (a bare JSON array).
func (c *Client) ListResultTypes(ctx context.Context) ([]schema.ResultType, error) {
	const op = "list result types"
	_, data, err := c.do(ctx, call{op: op, method: http.MethodGet, path: resultTypesPath, permission: PermissionViewActivities, limit: maxSmallBytes})
	if err != nil {
		return nil, err
	}
	var types []schema.ResultType
	if err := json.Unmarshal(data, &types); err != nil {
		return nil, &Error{Op: op, Class: schema.ErrRejected, StatusCode: http.StatusOK, Permission: PermissionViewActivities,
			Body: c.scrub(trim(string(data), maxErrorBody)), Err: fmt.Errorf("%w: %w", ErrBadResponse, err)}
	}
	return types, nil
}

// SubmitResult POSTs body, a result message, byte for byte, and returns the status. Any
// 2xx is success (the docs do not show which); 409 is an error of class schema.ErrConflict.
func (c *Client) SubmitResult(ctx context.Context, body []byte) (int, error) {
	status, _, err := c.do(ctx, call{op: "submit result", method: http.MethodPost, path: resultsPath, body: body, permission: PermissionSubmitActivityResult, limit: maxSmallBytes, discard: true})
	return status, err
}

// PermissionCheck is whether the key may call one endpoint.
type PermissionCheck struct {
	Endpoint   string
	Permission string
	// OK is true when the key was accepted (the endpoint answered anything but 401/403).
	OK bool
	// Err is the failure, if any: an auth error says what is wrong with the key.
	Err error
}

// CheckPermissions tries each endpoint once with the key. The submit endpoint is probed
// with an empty JSON object: Reten validates the body only after it accepted the key, so a
// 400 proves the key may submit while nothing is recorded.
func (c *Client) CheckPermissions(ctx context.Context) []PermissionCheck {
	checks := []PermissionCheck{
		{Endpoint: "GET " + tasksPath, Permission: PermissionViewActivities},
		{Endpoint: "GET " + resultTypesPath, Permission: PermissionViewActivities},
		{Endpoint: "POST " + resultsPath, Permission: PermissionSubmitActivityResult},
	}
	_, checks[0].Err = c.ListTasksPage(ctx, 1, 1, nil)
	_, checks[1].Err = c.ListResultTypes(ctx)
	_, checks[2].Err = c.SubmitResult(ctx, []byte(`{}`))
	if errors.Is(checks[2].Err, schema.ErrRejected) {
		checks[2].Err = nil // validation failed after the key was accepted
	}
	for i := range checks {
		checks[i].OK = checks[i].Err == nil || !errors.Is(checks[i].Err, schema.ErrAuth)
	}
	return checks
}
