package ops_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/reten/reten-relay/relay/ops"
)

func TestHandler_ReadyzNamesEachFailingComponent(t *testing.T) {
	h := ops.NewHealth()
	m := ops.NewMetrics()
	srv := httptest.NewServer(ops.Handler(h, m))
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	h.Register("nats", "connecting")
	h.Register("tasks.poller", "no complete poll yet")
	if changed := h.Set("nats", true, ""); !changed {
		t.Error("Set reported no change for a new state")
	}
	if changed := h.Set("nats", true, ""); changed {
		t.Error("Set reported a change for the same state")
	}
	code, body := get("/readyz")
	var s ops.Status
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatal(err)
	}
	if code != 503 || s.Ready || len(s.Failing) != 1 || s.Failing[0] != "tasks.poller" || s.Components["tasks.poller"].Reason != "no complete poll yet" {
		t.Fatalf("/readyz = %d %s", code, body)
	}
	h.Set("tasks.poller", true, "")
	if code, _ := get("/readyz"); code != 200 {
		t.Fatalf("/readyz = %d with every component ready", code)
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz = %d %q", code, body)
	}
	m.Results.WithLabelValues("accepted").Inc()
	if _, body := get("/metrics"); !strings.Contains(body, `reten_relay_results_total{outcome="accepted"} 1`) || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("/metrics lacks the relay's metrics:\n%.500s", body)
	}
}
