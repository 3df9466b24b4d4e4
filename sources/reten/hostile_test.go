package reten_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/sources/reten"
	"github.com/reten/reten-relay/sources/reten/retensim"
)

// TestClient_StreamTasks_StaysBoundedAgainstHostileAnswers runs a listing against each way
// the list endpoint was seen (or could be made) to misbehave: every walk ends after a
// bounded number of requests, with a clear error or an honest summary.
func TestClient_StreamTasks_StaysBoundedAgainstHostileAnswers(t *testing.T) {
	cases := []struct {
		name        string
		hostile     retensim.Hostile
		fault       *retensim.Fault
		maxTasks    int
		maxRequests int64
		withError   func(*testing.T, error)
		withSummary func(*testing.T, schema.ListSummary, int)
	}{
		{name: "meta.totalPages of 1,000,000 is capped by meta.total", hostile: retensim.Hostile{TotalPages: 1_000_000}, maxRequests: 3,
			withSummary: covered(250)},
		{name: "meta.totalPages of 2,000,000,000 is capped by meta.total", hostile: retensim.Hostile{TotalPages: 2_000_000_000}, maxRequests: 3,
			withSummary: covered(250)},
		{name: "a meta.total beyond max_tasks fails at once", hostile: retensim.Hostile{Total: 2_000_000_000, TotalPages: 2_000_000_000}, maxRequests: 1,
			withError: isErr(schema.ErrTooManyTasks, schema.ErrRejected)},
		{name: "a lying meta.total ends at the first short page, not covered", hostile: retensim.Hostile{Total: 900_000, TotalPages: 9_000}, maxRequests: 3 + 4,
			withSummary: func(t *testing.T, s schema.ListSummary, n int) {
				if s.Covered || n != 250 || !strings.Contains(s.Inconsistency, "meta.total") {
					t.Fatalf("summary %+v, %d tasks", s, n)
				}
			}},
		{name: "pages without meta that never end stop at max_tasks", hostile: retensim.Hostile{NoMeta: true, Endless: true}, maxTasks: 2000, maxRequests: 21,
			withError: isErr(schema.ErrTooManyTasks, schema.ErrRejected)},
		{name: "Reten ignoring page without meta is a repeated page", hostile: retensim.Hostile{NoMeta: true, IgnorePage: true}, maxRequests: 2,
			withError: isErr(reten.ErrBadResponse, schema.ErrRejected)},
		{name: "Reten ignoring page with meta is a repeated page", hostile: retensim.Hostile{IgnorePage: true}, maxRequests: 1 + 4,
			withError: isErr(reten.ErrBadResponse, schema.ErrRejected)},
		{name: "a huge body is cut at the size cap", hostile: retensim.Hostile{HugeBody: 64 << 20}, maxRequests: 1,
			withError: isErr(reten.ErrBadResponse, schema.ErrRejected)},
		{name: "a page of the wrong shape fails the listing", fault: ptr(retensim.FaultBody(200, "application/json", `{"data":{"id":"x"},"meta":{"total":1}}`)), maxRequests: 1,
			withError: isErr(reten.ErrBadResponse, schema.ErrRejected)},
		{name: "pages smaller than per_page without meta are walked to the end", hostile: retensim.Hostile{NoMeta: true, PageSize: 30}, maxRequests: 10,
			withSummary: covered(250)},
		{name: "pages smaller than per_page with their meta.limit are walked to the end", hostile: retensim.Hostile{PageSize: 30}, maxRequests: 9 + 4,
			withSummary: covered(250)},
		{name: "pages smaller than per_page under a lying meta.limit are not covered", hostile: retensim.Hostile{PageSize: 30, Limit: 100}, maxRequests: 1 + 4,
			withSummary: func(t *testing.T, s schema.ListSummary, n int) {
				if s.Covered {
					t.Fatalf("summary %+v, %d tasks", s, n)
				}
			}},
		{name: "a same-host redirect is followed with the key", maxRequests: 6, withSummary: covered(250)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sim := retensim.New(t, retensim.WithTasks(250))
			h := c.hostile
			if strings.HasPrefix(c.name, "a same-host redirect") {
				h.RedirectTo = sim.URL()
			}
			sim.SetHostile(h)
			if c.fault != nil {
				sim.Script(retensim.EndpointListTasks, *c.fault)
			}
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			n := 0
			sum, err := newClient(t, sim, sim.APIKey()).StreamTasks(ctxT(t), schema.ListOptions{Concurrency: 4, MaxTasks: c.maxTasks},
				func(_ int, tasks []schema.Task) error {
					n += len(tasks)
					return nil
				})
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			if got := sim.Requests(retensim.EndpointListTasks); got > c.maxRequests {
				t.Errorf("%d requests, want at most %d", got, c.maxRequests)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 40<<20 {
				t.Errorf("the listing allocated %d MB", alloc>>20)
			}
			switch {
			case c.withError != nil:
				c.withError(t, err)
				t.Logf("error: %v", err)
			case err != nil:
				t.Fatal(err)
			default:
				c.withSummary(t, sum, n)
			}
		})
	}
}

func TestClient_NeverSendsTheKeyToAnotherHost(t *testing.T) {
	var withKey, any atomic.Int64
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		any.Add(1)
		if r.Header.Get("x-api-key") != "" {
			withKey.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data":[],"meta":{"page":1,"limit":100,"total":0,"totalPages":0}}`))
	}))
	t.Cleanup(foreign.Close)
	sim := retensim.New(t, retensim.WithTasks(250))
	sim.SetHostile(retensim.Hostile{RedirectTo: foreign.URL})
	c := newClient(t, sim, sim.APIKey())
	_, err := c.StreamTasks(ctxT(t), schema.ListOptions{}, func(int, []schema.Task) error {
		t.Fatal("a page from a redirected listing was handed over")
		return nil
	})
	if !errors.Is(err, reten.ErrForeignRedirect) || !errors.Is(err, schema.ErrRejected) || !strings.Contains(err.Error(), strings.TrimPrefix(foreign.URL, "http://")) {
		t.Fatalf("err = %v, want a rejected foreign redirect naming %s", err, foreign.URL)
	}
	if strings.Contains(err.Error(), sim.APIKey()) {
		t.Fatal("the error shows the key")
	}
	if _, _, err := c.TaskExists(ctxT(t), schema.Task{ID: "t", Raw: []byte(`{"id":"t","commerceExternalId":"COM-1"}`)}); !errors.Is(err, reten.ErrForeignRedirect) {
		t.Fatalf("TaskExists err = %v", err)
	}
	if withKey.Load() != 0 || any.Load() != 0 {
		t.Fatalf("the foreign host got %d requests, %d with the key", any.Load(), withKey.Load())
	}
	t.Logf("error: %v", err)
}

func covered(want int) func(*testing.T, schema.ListSummary, int) {
	return func(t *testing.T, s schema.ListSummary, n int) {
		t.Helper()
		if !s.Covered || n != want || s.Tasks != want {
			t.Fatalf("summary %+v, %d tasks, want %d covered", s, n, want)
		}
	}
}

func isErr(targets ...error) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		for _, target := range targets {
			if !errors.Is(err, target) {
				t.Fatalf("err = %v, want one wrapping %v", err, target)
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestClient_StreamTasks_EveryMixOfLiesEndsBounded lists through random mixes of hostile
// answers: whatever they are, the walk ends within max_tasks' pages plus the workers in
// flight, and a listing called covered holds every task of the list.
func TestClient_StreamTasks_EveryMixOfLiesEndsBounded(t *testing.T) {
	rnd := rand.New(rand.NewPCG(11, 12))
	pick := func(vals ...int) int { return vals[rnd.IntN(len(vals))] }
	const maxTasks, conc = 1000, 4
	for i := range 60 {
		h := retensim.Hostile{
			TotalPages: pick(0, 0, 1, 2, 7, 1_000_000, 2_000_000_000),
			Total:      pick(0, 0, 1, 150, 999, 1000, 1001, 2_000_000_000),
			Limit:      pick(0, 0, 1, 50, 100, 1_000_000),
			PageSize:   pick(0, 0, 30, 100),
			NoMeta:     rnd.IntN(4) == 0,
			Endless:    rnd.IntN(4) == 0,
			IgnorePage: rnd.IntN(5) == 0,
		}
		n := pick(0, 1, 99, 100, 250, 700)
		t.Run(fmt.Sprintf("%d: %d tasks, %+v", i, n, h), func(t *testing.T) {
			sim := retensim.New(t, retensim.WithTasks(n))
			sim.SetHostile(h)
			ids := map[string]bool{}
			sum, err := newClient(t, sim, sim.APIKey()).StreamTasks(ctxT(t), schema.ListOptions{Concurrency: conc, MaxTasks: maxTasks},
				func(_ int, tasks []schema.Task) error {
					for _, task := range tasks {
						ids[task.ID] = true
					}
					return nil
				})
			// The smallest page a lie can make is one task (meta.limit 1).
			if got := sim.Requests(retensim.EndpointListTasks); got > maxTasks+conc+1 {
				t.Fatalf("%d requests", got)
			}
			if err == nil && sum.Covered && !h.Endless && !h.IgnorePage {
				for _, task := range sim.Tasks() {
					if !ids[task.ID] {
						t.Fatalf("covered listing (%+v) misses task %s", sum, task.ID)
					}
				}
			}
			if err != nil && !errors.Is(err, schema.ErrRejected) {
				t.Fatalf("err = %v, want a rejected listing", err)
			}
		})
	}
}
