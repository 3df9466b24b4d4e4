package retensim_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/reten/reten-relay/sources/reten/retensim"
)

func call(t *testing.T, method, url string, headers map[string]string, body string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

type page struct {
	Data []struct {
		ID, Status, Channel string
	}
	Meta struct{ Page, Limit, Total, TotalPages int }
}

func TestSim_ListsTasksLikeReten(t *testing.T) {
	sim := retensim.New(t, retensim.WithTasks(45), retensim.WithSeed(1))
	key := map[string]string{"x-api-key": sim.APIKey()}
	list := func(query string) (int, page, string) {
		code, body := call(t, "GET", sim.URL()+"/api/integration/activities/tasks"+query, key, "")
		var p page
		_ = json.Unmarshal([]byte(body), &p)
		return code, p, body
	}
	cases := []struct {
		name, query          string
		status, items, pages int
	}{
		{"default page size is 20", "", 200, 20, 3},
		{"per_page sets the page size", "?per_page=10&page=5", 200, 5, 5},
		{"limit is accepted as per_page", "?limit=15&page=3", 200, 15, 3},
		{"a page past the end is empty", "?per_page=100&page=2", 200, 0, 1},
		{"per_page above 100 is refused", "?per_page=101", 400, 0, 0},
		{"a page of zero is refused", "?page=0", 400, 0, 0},
		{"a bad date filter is refused", "?scheduled_from=tomorrow", 400, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, p, body := list(c.query)
			if code != c.status || len(p.Data) != c.items || (code == 200 && (p.Meta.TotalPages != c.pages || p.Meta.Total != 45)) {
				t.Fatalf("%d %s", code, body)
			}
		})
	}
	// Deleting a task shifts the later ones one place to the front.
	_, p1, _ := list("?per_page=10&page=2")
	sim.DeleteTask(sim.Tasks()[0].ID)
	_, p2, _ := list("?per_page=10&page=2")
	if p2.Data[0].ID != p1.Data[1].ID {
		t.Fatal("a delete did not shift the following tasks")
	}
	// Filters.
	_, all, _ := list("?per_page=100")
	want := 0
	for _, d := range all.Data {
		if d.Channel == "WHATSAPP" {
			want++
		}
	}
	if _, f, _ := list("?per_page=100&channel=WHATSAPP"); len(f.Data) != want {
		t.Fatalf("channel filter: %d, want %d", len(f.Data), want)
	}
}

func TestSim_KeysTenantsAndTheAPIKeysList(t *testing.T) {
	sim := retensim.New(t, retensim.WithTasks(3))
	sim.AddKey("rtn_sk_othertenant1", "tenant-b", "view_activities")
	code, body := call(t, "GET", sim.URL()+"/api/integration/activities/tasks", map[string]string{"x-api-key": "rtn_sk_othertenant1"}, "")
	if code != 200 || !strings.Contains(body, `"total":0`) {
		t.Fatalf("another tenant's key sees: %d %s", code, body)
	}
	if code, body := call(t, "GET", sim.URL()+"/api/integration/activities/tasks", map[string]string{"Authorization": "Bearer jwt"}, ""); code != 401 || !strings.Contains(body, "JWT") {
		t.Fatalf("JWT on an integration endpoint: %d %s", code, body)
	}
	sim.AddJWT("admin-token", retensim.DefaultTenant, "MANAGE_API_KEYS")
	code, body = call(t, "GET", sim.URL()+"/api/api-keys", map[string]string{"Authorization": "Bearer admin-token", "x-tenant-id": retensim.DefaultTenant}, "")
	if code != 200 || strings.Contains(body, sim.APIKey()) || !strings.Contains(body, `"keyPrefix":"`+sim.APIKey()[:15]+`"`) {
		t.Fatalf("api-keys: %d %s", code, body)
	}
	for _, c := range []struct {
		headers map[string]string
		status  int
	}{
		{map[string]string{"Authorization": "Bearer admin-token"}, 400},
		{map[string]string{"Authorization": "Bearer nope", "x-tenant-id": retensim.DefaultTenant}, 401},
		{map[string]string{"Authorization": "Bearer admin-token", "x-tenant-id": "tenant-b"}, 403},
	} {
		if code, body := call(t, "GET", sim.URL()+"/api/api-keys", c.headers, ""); code != c.status {
			t.Errorf("api-keys with %v: %d %s, want %d", c.headers, code, body, c.status)
		}
	}
}

func TestSim_ResultsMoveTheTaskAndAreRecorded(t *testing.T) {
	sim := retensim.New(t, retensim.WithTasks(1))
	task := sim.Tasks()[0]
	body := `{"activity_id":"` + task.ID + `","commerce_external_id":"C","occurred_at":"2026-04-11T10:30:00Z","status":"EFFECTIVE","task_result":{"result":"SALE_COMPLETED"}}`
	key := map[string]string{"x-api-key": sim.APIKey(), "Content-Type": "application/json"}
	url := sim.URL() + "/api/integration/activity-results/tasks"
	if code, resp := call(t, "POST", url, key, body); code != 201 || !strings.Contains(resp, `"source":"RETEN_ACTIVITY"`) {
		t.Fatalf("first result: %d %s", code, resp)
	}
	if code, _ := call(t, "POST", url, key, body); code != 409 {
		t.Fatalf("second result: %d, want 409", code)
	}
	override := strings.Replace(body, `"status"`, `"hard_override":true,"status"`, 1)
	if code, _ := call(t, "POST", url, key, override); code != 201 {
		t.Fatalf("hard_override: %d, want 201", code)
	}
	if got, _ := sim.Task(task.ID); got.Status != "COMPLETED" || got.OccurredAt == nil {
		t.Fatalf("task after the result: %+v", got)
	}
	if n := len(sim.ResultsFor(task.ID)); n != 2 || sim.Responses(retensim.EndpointSubmit, 409) != 1 {
		t.Fatalf("recorded %d results", n)
	}
}

func TestSim_ChurnChangesTheList(t *testing.T) {
	sim := retensim.New(t, retensim.WithTasks(50), retensim.WithSeed(9))
	before, _ := json.Marshal(sim.Tasks())
	sim.Churn(20)
	after, _ := json.Marshal(sim.Tasks())
	if string(before) == string(after) {
		t.Fatal("churn changed nothing")
	}
}
