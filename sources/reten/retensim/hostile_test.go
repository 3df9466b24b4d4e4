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

func TestSim_HostileModesAnswerAsTheySay(t *testing.T) {
	sim := retensim.New(t, retensim.WithTasks(45))
	key := map[string]string{"x-api-key": sim.APIKey()}
	list := func(query string) (page, map[string]json.RawMessage) {
		t.Helper()
		code, body := call(t, "GET", sim.URL()+"/api/integration/activities/tasks"+query, key, "")
		var p page
		var raw map[string]json.RawMessage
		if code != 200 || json.Unmarshal([]byte(body), &p) != nil || json.Unmarshal([]byte(body), &raw) != nil {
			t.Fatalf("%d %.200s", code, body)
		}
		return p, raw
	}
	sim.SetHostile(retensim.Hostile{TotalPages: 2_000_000_000, Total: 7, Limit: 3})
	if p, _ := list("?per_page=10"); p.Meta.TotalPages != 2_000_000_000 || p.Meta.Total != 7 || p.Meta.Limit != 3 || len(p.Data) != 10 {
		t.Errorf("lying meta: %+v, %d items", p.Meta, len(p.Data))
	}
	sim.SetHostile(retensim.Hostile{NoMeta: true, Endless: true})
	if p, raw := list("?per_page=10&page=99"); raw["meta"] != nil || len(p.Data) != 10 || !strings.HasPrefix(p.Data[0].ID, "endless-99-") {
		t.Errorf("endless page without meta: %d items, meta %s", len(p.Data), raw["meta"])
	}
	sim.SetHostile(retensim.Hostile{IgnorePage: true, PageSize: 4})
	p1, _ := list("?per_page=10&page=1")
	if p3, _ := list("?per_page=10&page=3"); len(p3.Data) != 4 || p3.Data[0].ID != p1.Data[0].ID || p3.Meta.Page != 1 {
		t.Errorf("page 3 while ignoring page: %+v", p3)
	}
	sim.SetHostile(retensim.Hostile{RedirectTo: "http://other.invalid:81"})
	req, _ := http.NewRequest("GET", sim.URL()+"/api/integration/activities/tasks?page=2", nil)
	req.Header.Set("x-api-key", sim.APIKey())
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != 302 || loc != "http://other.invalid:81/api/integration/activities/tasks?page=2&redirected=1" {
		t.Errorf("redirect: %d to %q", resp.StatusCode, loc)
	}
	sim.SetHostile(retensim.Hostile{HugeBody: 3 << 20})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ = http.NewRequestWithContext(ctx, "GET", sim.URL()+"/api/integration/activities/tasks", nil)
	req.Header.Set("x-api-key", sim.APIKey())
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if len(body) < 3<<20 || !json.Valid(body) {
		t.Errorf("huge body: %d bytes, valid JSON %v", len(body), json.Valid(body))
	}
	sim.SetHostile(retensim.Hostile{})
	if p, _ := list("?per_page=10&page=5"); len(p.Data) != 5 || p.Meta.Total != 45 || p.Meta.TotalPages != 5 {
		t.Errorf("after SetHostile(Hostile{}): %+v, %d items", p.Meta, len(p.Data))
	}
}
