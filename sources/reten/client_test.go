package reten_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/reten/reten-relay/relay"
	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/sources/reten"
	"github.com/reten/reten-relay/sources/reten/retensim"
)

var (
	_ relay.Lister    = (*reten.Client)(nil)
	_ relay.Submitter = (*reten.Client)(nil)
)

func newClient(t testing.TB, sim *retensim.Sim, key string) *reten.Client {
	t.Helper()
	c, err := reten.New(reten.Config{BaseURL: sim.URL(), APIKey: reten.NewAPIKey(key), Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func validResult(taskID string) []byte {
	b, _ := json.Marshal(map[string]any{
		"activity_id": taskID, "commerce_external_id": "COM-001", "occurred_at": "2026-04-11T10:30:00.000Z",
		"status": "EFFECTIVE", "task_result": map[string]any{"result": "SALE_COMPLETED", "contact_type": "OUTBOUND"},
	})
	return b
}

func TestClient_ListAllTasks_ReadsEveryPageOfALargeList(t *testing.T) {
	sim := retensim.New(t, retensim.WithTasks(2000))
	var progress []int
	l, err := newClient(t, sim, sim.APIKey()).ListAllTasks(ctxT(t), schema.ListOptions{PageSize: 100, Concurrency: 4,
		Progress: func(done, total int) { progress = append(progress, done) }})
	if err != nil {
		t.Fatal(err)
	}
	// 20 full pages, and an empty 21st that proves the end.
	if !l.Consistent || len(l.Tasks) != 2000 || l.Pages != 21 || l.Total != 2000 {
		t.Fatalf("listing: consistent=%v (%s) tasks=%d pages=%d total=%d", l.Consistent, l.Inconsistency, len(l.Tasks), l.Pages, l.Total)
	}
	if got := sim.Requests(retensim.EndpointListTasks); got != 21 {
		t.Errorf("requests = %d, want 21", got)
	}
	if len(progress) != 21 {
		t.Errorf("progress called %d times, want 21", len(progress))
	}
	want := sim.Tasks()
	for i, task := range l.Tasks {
		if task.ID != want[i].ID {
			t.Fatalf("task %d is %s, want %s (list order)", i, task.ID, want[i].ID)
		}
		var decoded map[string]any
		if err := json.Unmarshal(task.Raw, &decoded); err != nil || decoded["commerceExternalId"] != want[i].CommerceExternalID {
			t.Fatalf("raw JSON of task %d = %s", i, task.Raw)
		}
	}
}

func TestClient_ListAllTasks_RetriesAFlakyPageInsideTheListing(t *testing.T) {
	sim := retensim.New(t, retensim.WithTasks(250))
	sim.Script(retensim.EndpointListTasks, retensim.FaultNone, retensim.FaultStatus(503), retensim.FaultDrop)
	l, err := newClient(t, sim, sim.APIKey()).ListAllTasks(ctxT(t), schema.ListOptions{PageSize: 100, Concurrency: 1})
	if err != nil || !l.Consistent || len(l.Tasks) != 250 {
		t.Fatalf("listing = %d tasks, consistent %v, err %v", len(l.Tasks), l.Consistent, err)
	}
}

func TestClient_ListAllTasks_ReportsAListingThatShiftedDuringTheWalk(t *testing.T) {
	cases := []struct {
		name  string
		drift func(sim *retensim.Sim)
	}{
		{"a task on a fetched page is deleted", func(sim *retensim.Sim) { sim.DeleteTask(sim.Tasks()[0].ID) }},
		{"a task is added at the end", func(sim *retensim.Sim) { sim.AddTasks(1) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sim := retensim.New(t, retensim.WithTasks(300))
			sim.OnPageServed(func(page int) {
				if page == 1 {
					c.drift(sim)
				}
			})
			l, err := newClient(t, sim, sim.APIKey()).ListAllTasks(ctxT(t), schema.ListOptions{PageSize: 100, Concurrency: 1})
			if err != nil {
				t.Fatal(err)
			}
			if l.Consistent {
				t.Fatalf("a shifted listing was reported consistent: %d tasks", len(l.Tasks))
			}
			t.Logf("inconsistency: %s", l.Inconsistency)
		})
	}
}

func TestClient_FailureClasses(t *testing.T) {
	httpDate := time.Now().Add(3 * time.Second).UTC().Format(http.TimeFormat)
	cases := []struct {
		name       string
		fault      retensim.Fault
		class      error
		status     int
		retryAfter time.Duration
		sentinel   error
	}{
		{"503 is transient", retensim.FaultStatus(503), schema.ErrTransient, 503, 0, nil},
		{"500 is transient", retensim.FaultStatus(500), schema.ErrTransient, 500, 0, nil},
		{"408 is transient", retensim.FaultStatus(408), schema.ErrTransient, 408, 0, nil},
		{"425 is transient", retensim.FaultStatus(425), schema.ErrTransient, 425, 0, nil},
		{"429 with Retry-After seconds", retensim.Fault429("7"), schema.ErrTransient, 429, 7 * time.Second, nil},
		{"429 with Retry-After HTTP date", retensim.Fault429(httpDate), schema.ErrTransient, 429, 3 * time.Second, nil},
		{"a dropped connection is transient", retensim.FaultDrop, schema.ErrTransient, 0, 0, nil},
		{"a hung server times out as transient", retensim.FaultHang(10 * time.Second), schema.ErrTransient, 0, 0, nil},
		{"400 is rejected", retensim.FaultStatus(400), schema.ErrRejected, 400, 0, nil},
		{"404 is rejected", retensim.FaultStatus(404), schema.ErrRejected, 404, 0, nil},
		{"409 is a conflict", retensim.FaultStatus(409), schema.ErrConflict, 409, 0, nil},
		{"401 is auth", retensim.FaultStatus(401), schema.ErrAuth, 401, 0, nil},
		{"403 is auth", retensim.FaultStatus(403), schema.ErrAuth, 403, 0, nil},
		{"an HTML page with 200 is a bad response", retensim.FaultBody(200, "text/html", "<html><body>Welcome to the proxy</body></html>"), schema.ErrRejected, 200, 0, reten.ErrBadResponse},
		{"truncated JSON is a bad response", retensim.FaultBody(200, "application/json", `{"data":[{"id":"a"},{"id":`), schema.ErrRejected, 200, 0, reten.ErrBadResponse},
		{"an HTML 502 from a proxy is transient", retensim.FaultBody(502, "text/html", "<html>Bad Gateway</html>"), schema.ErrTransient, 502, 0, nil},
		{"a page without data is a bad response", retensim.FaultBody(200, "application/json", `{"items":[]}`), schema.ErrRejected, 200, 0, reten.ErrBadResponse},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sim := retensim.New(t, retensim.WithTasks(3))
			client, err := reten.New(reten.Config{BaseURL: sim.URL(), APIKey: reten.NewAPIKey(sim.APIKey()), Timeout: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			sim.Script(retensim.EndpointListTasks, c.fault)
			_, err = client.ListTasksPage(ctxT(t), 1, 10, nil)
			if !errors.Is(err, c.class) {
				t.Fatalf("err = %v, want class %v", err, c.class)
			}
			var re *reten.Error
			if !errors.As(err, &re) {
				t.Fatalf("err %T is not a *reten.Error", err)
			}
			if re.HTTPStatus() != c.status {
				t.Errorf("status = %d, want %d", re.HTTPStatus(), c.status)
			}
			if d := re.RetryAfterDelay(); d < c.retryAfter-time.Second || d > c.retryAfter {
				t.Errorf("Retry-After = %s, want %s", d, c.retryAfter)
			}
			if c.sentinel != nil && !errors.Is(err, c.sentinel) {
				t.Errorf("err = %v, want it to wrap %v", err, c.sentinel)
			}
			if re.RequiredPermission() != reten.PermissionViewActivities {
				t.Errorf("permission = %q", re.RequiredPermission())
			}
		})
	}
}

func TestClient_AuthFailuresNameTheProblem(t *testing.T) {
	cases := []struct {
		name    string
		setup   func(sim *retensim.Sim) string
		call    func(c *reten.Client, ctx context.Context) error
		status  int
		message string
	}{
		{"an unknown key", func(sim *retensim.Sim) string { return "rtn_sk_nope" }, listOnce, 401, "API key missing or invalid"},
		{"a revoked key", func(sim *retensim.Sim) string { sim.RevokeKey(sim.APIKey()); return sim.APIKey() }, listOnce, 401, "revoked"},
		{"an expired key", func(sim *retensim.Sim) string { sim.ExpireKey(sim.APIKey()); return sim.APIKey() }, listOnce, 401, "expired"},
		{"a key without VIEW_ACTIVITIES", func(sim *retensim.Sim) string {
			sim.AddKey("rtn_sk_submitonly", retensim.DefaultTenant, "submit_activity_result")
			return "rtn_sk_submitonly"
		}, listOnce, 403, "lacks the permission VIEW_ACTIVITIES"},
		{"a key without SUBMIT_ACTIVITY_RESULT", func(sim *retensim.Sim) string {
			sim.AddKey("rtn_sk_viewonly", retensim.DefaultTenant, "view_activities")
			return "rtn_sk_viewonly"
		}, func(c *reten.Client, ctx context.Context) error {
			_, err := c.SubmitResult(ctx, validResult("x"))
			return err
		}, 403, "lacks the permission SUBMIT_ACTIVITY_RESULT"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sim := retensim.New(t, retensim.WithTasks(1))
			key := c.setup(sim)
			err := c.call(newClient(t, sim, key), ctxT(t))
			var re *reten.Error
			if !errors.Is(err, schema.ErrAuth) || !errors.As(err, &re) || re.StatusCode != c.status {
				t.Fatalf("err = %v, want auth %d", err, c.status)
			}
			if !strings.Contains(err.Error(), c.message) {
				t.Errorf("error %q does not say %q", err, c.message)
			}
			if strings.Contains(err.Error(), key) && len(key) > 0 {
				t.Errorf("error %q contains the key", err)
			}
		})
	}
}

func listOnce(c *reten.Client, ctx context.Context) error {
	_, err := c.ListTasksPage(ctx, 1, 10, nil)
	return err
}

func TestClient_SubmitResult(t *testing.T) {
	sim := retensim.New(t, retensim.WithTasks(2))
	c := newClient(t, sim, sim.APIKey())
	ctx := ctxT(t)
	task := sim.Tasks()[0]

	status, err := c.SubmitResult(ctx, validResult(task.ID))
	if err != nil || status != http.StatusCreated {
		t.Fatalf("first submit: %d %v", status, err)
	}
	if _, err := c.SubmitResult(ctx, validResult(task.ID)); !errors.Is(err, schema.ErrConflict) {
		t.Fatalf("second submit: %v, want conflict", err)
	}
	if _, err := c.SubmitResult(ctx, validResult("no-such-task")); !errors.Is(err, schema.ErrRejected) || !strings.Contains(err.Error(), "404") {
		t.Fatalf("unknown task: %v, want rejected 404", err)
	}
	unknownCode := bytes.Replace(validResult(sim.Tasks()[1].ID), []byte("SALE_COMPLETED"), []byte("TELEPORTED"), 1)
	if _, err := c.SubmitResult(ctx, unknownCode); !errors.Is(err, schema.ErrRejected) || !strings.Contains(err.Error(), "TELEPORTED") {
		t.Fatalf("unknown result code: %v", err)
	}
	reschedule := bytes.Replace(validResult(sim.Tasks()[1].ID), []byte("SALE_COMPLETED"), []byte("RESCHEDULE"), 1)
	if _, err := c.SubmitResult(ctx, reschedule); !errors.Is(err, schema.ErrRejected) || !strings.Contains(err.Error(), "future_scheduled_at") {
		t.Fatalf("missing future date: %v", err)
	}
	if got := len(sim.Results()); got != 1 {
		t.Fatalf("simulator recorded %d results, want 1", got)
	}
	types, err := c.ListResultTypes(ctx)
	if err != nil || len(types) != 4 || !types[2].RequiresFutureScheduledAt {
		t.Fatalf("result types = %+v, %v", types, err)
	}
}

func TestClient_PageBeyondTheEndIsTyped(t *testing.T) {
	sim := retensim.New(t, retensim.WithTasks(5))
	_, err := newClient(t, sim, sim.APIKey()).ListTasksPage(ctxT(t), 3, 5, nil)
	if !errors.Is(err, reten.ErrPageBeyondEnd) {
		t.Fatalf("err = %v, want ErrPageBeyondEnd", err)
	}
}

func TestClient_CheckPermissions(t *testing.T) {
	sim := retensim.New(t)
	sim.AddKey("rtn_sk_viewonly", retensim.DefaultTenant, "VIEW_ACTIVITIES")
	checks := newClient(t, sim, "rtn_sk_viewonly").CheckPermissions(ctxT(t))
	if !checks[0].OK || !checks[1].OK || checks[2].OK || checks[2].Permission != reten.PermissionSubmitActivityResult {
		t.Fatalf("checks = %+v", checks)
	}
	if len(sim.Results()) != 0 {
		t.Fatal("the permission probe recorded a result")
	}
}

func TestAPIKey_NeverPrints(t *testing.T) {
	const key = "rtn_sk_supersecret123456"
	sim := retensim.New(t)
	sim.AddKey(key, retensim.DefaultTenant) // no permissions: every call fails
	var logs bytes.Buffer
	log := zerolog.New(&logs)
	cfg := reten.Config{BaseURL: sim.URL(), APIKey: reten.NewAPIKey(key)}
	c, err := reten.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, callErr := c.ListTasksPage(ctxT(t), 1, 1, nil)
	if callErr == nil {
		t.Fatal("want an error")
	}
	log.Error().Err(callErr).Interface("config", cfg).Str("key", cfg.APIKey.String()).Msg("failed")
	jsonCfg, _ := json.Marshal(cfg)
	outputs := map[string]string{
		"%v":    fmt.Sprintf("%v", cfg),
		"%+v":   fmt.Sprintf("%+v", cfg),
		"%#v":   fmt.Sprintf("%#v", cfg),
		"%s":    fmt.Sprintf("%s", cfg.APIKey),
		"%q":    fmt.Sprintf("%q", cfg.APIKey),
		"%x":    fmt.Sprintf("%x", cfg.APIKey),
		"json":  string(jsonCfg),
		"error": callErr.Error(),
		"log":   logs.String(),
	}
	for name, out := range outputs {
		if strings.Contains(out, key) || strings.Contains(out, "supersecret") {
			t.Errorf("%s output contains the key: %s", name, out)
		}
	}
	if !strings.Contains(outputs["%v"], schema.Redacted) {
		t.Errorf("%%v = %s, want the redacted marker", outputs["%v"])
	}
}
