package reten_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/sources/reten"
	"github.com/reten/reten-relay/sources/reten/retensim"
)

func TestClient_StreamTasks_HandsEveryPageOnceAndNeverConcurrently(t *testing.T) {
	sim := retensim.New(t, retensim.WithTasks(2050))
	var (
		inFn     atomic.Int32
		overlaps int
		pages    = map[int]int{}
		ids      = map[string]bool{}
		progress []int
	)
	sum, err := newClient(t, sim, sim.APIKey()).StreamTasks(ctxT(t), schema.ListOptions{PageSize: 100, Concurrency: 8,
		Progress: func(done, total int) { progress = append(progress, done*10000+total) }},
		func(page int, tasks []schema.Task) error {
			if inFn.Add(1) != 1 {
				overlaps++
			}
			defer inFn.Add(-1)
			pages[page]++
			for _, task := range tasks {
				ids[task.ID] = true
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Covered || sum.Pages != 21 || sum.Tasks != 2050 || sum.Total != 2050 || sum.Inconsistency != "" {
		t.Fatalf("summary = %+v", sum)
	}
	if overlaps != 0 || len(pages) != 21 || len(ids) != 2050 {
		t.Fatalf("overlaps %d, pages %v, ids %d", overlaps, pages, len(ids))
	}
	for p, n := range pages {
		if n != 1 {
			t.Errorf("page %d handed over %d times", p, n)
		}
	}
	if got := sim.Requests(retensim.EndpointListTasks); got > 21+8 {
		t.Errorf("%d requests for 21 pages", got)
	}
	if len(progress) != 21 || progress[20] != 21*10000+21 {
		t.Errorf("progress = %v", progress)
	}
}

func TestClient_StreamTasks_AnErrorFromFnStopsTheListing(t *testing.T) {
	sim := retensim.New(t, retensim.WithTasks(3000))
	stop := errors.New("stop here")
	calls := 0
	_, err := newClient(t, sim, sim.APIKey()).StreamTasks(ctxT(t), schema.ListOptions{Concurrency: 4}, func(int, []schema.Task) error {
		calls++
		if calls == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 3 {
		t.Fatalf("err = %v after %d calls", err, calls)
	}
	if got := sim.Requests(retensim.EndpointListTasks); got > 3+4 {
		t.Errorf("%d requests after the stop", got)
	}
}

func TestClient_StreamTasks_APageThatKeepsFailingLeavesTheListingUncovered(t *testing.T) {
	sim := retensim.New(t, retensim.WithTasks(500))
	sim.FailPage(3, 503)
	c, err := reten.New(reten.Config{BaseURL: sim.URL(), APIKey: reten.NewAPIKey(sim.APIKey()), Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	sum, err := c.StreamTasks(ctxT(t), schema.ListOptions{Concurrency: 2}, func(_ int, tasks []schema.Task) error {
		got += len(tasks)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Covered || got != 400 || sum.Inconsistency == "" {
		t.Fatalf("summary %+v, %d tasks", sum, got)
	}
	t.Logf("inconsistency: %s", sum.Inconsistency)
}

func TestClient_TaskExists_ChecksOneTaskThroughTheCommerceFilter(t *testing.T) {
	sim := retensim.New(t)
	busy := make([]retensim.Task, 0, 150)
	for range 150 { // a commerce whose tasks fill two pages
		busy = append(busy, sim.AddTask(retensim.Task{CommerceExternalID: "COM-BUSY"}))
	}
	quiet := sim.AddTask(retensim.Task{CommerceExternalID: "COM-QUIET", Status: "PENDING"})
	c := newClient(t, sim, sim.APIKey())
	raw := func(task retensim.Task) schema.Task {
		var found schema.Task
		_, err := c.StreamTasks(ctxT(t), schema.ListOptions{}, func(_ int, tasks []schema.Task) error {
			for _, x := range tasks {
				if x.ID == task.ID {
					found = schema.Task{ID: x.ID, Raw: append([]byte(nil), x.Raw...)}
				}
			}
			return nil
		})
		if err != nil || found.ID == "" {
			t.Fatalf("task %s not listed: %v", task.ID, err)
		}
		return found
	}
	quietTask, busyTask := raw(quiet), raw(busy[120])
	check := func(task schema.Task, query map[string]string, wantExists, wantChecked bool) {
		t.Helper()
		exists, checked, err := c.TaskListed(ctxT(t), task, query)
		if err != nil || exists != wantExists || checked != wantChecked {
			t.Fatalf("task %s: exists %v checked %v err %v", task.ID, exists, checked, err)
		}
	}
	check(quietTask, nil, true, true)
	check(busyTask, nil, true, true)
	check(quietTask, map[string]string{"status": "PENDING"}, true, true)
	check(quietTask, map[string]string{"status": "COMPLETED"}, false, true)
	before := sim.Requests(retensim.EndpointListTasks)
	sim.DeleteTask(quiet.ID)
	sim.DeleteTask(busy[120].ID)
	check(quietTask, nil, false, true)
	check(busyTask, nil, false, true)
	if n := sim.Requests(retensim.EndpointListTasks) - before; n != 1+2*2 {
		t.Errorf("%d requests: want 1 for the one-page commerce, 2 walks of 2 pages for the other", n)
	}
	check(schema.Task{ID: "x", Raw: []byte(`{"id":"x"}`)}, nil, false, false)
	exists, checked, err := c.TaskExists(ctxT(t), busyTask)
	if err != nil || exists || !checked {
		t.Fatalf("TaskExists = %v %v %v", exists, checked, err)
	}
}

func TestClient_StreamTasks_FollowsTheListWhileItChanges(t *testing.T) {
	cases := []struct {
		name        string
		change      func(sim *retensim.Sim)
		wantTasks   int
		wantCovered bool
	}{
		{"a list that grows during the walk is walked to its new end", func(sim *retensim.Sim) { sim.AddTasks(100) }, 350, true},
		{"a list that shrinks during the walk ends at the first short page", func(sim *retensim.Sim) {
			for _, task := range sim.Tasks()[100:250] {
				sim.DeleteTask(task.ID)
			}
		}, 100, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sim := retensim.New(t, retensim.WithTasks(250))
			sim.OnPageServed(func(page int) {
				if page == 1 {
					c.change(sim)
				}
			})
			ids := map[string]bool{}
			sum, err := newClient(t, sim, sim.APIKey()).StreamTasks(ctxT(t), schema.ListOptions{Concurrency: 1}, func(_ int, tasks []schema.Task) error {
				for _, task := range tasks {
					ids[task.ID] = true
				}
				return nil
			})
			if err != nil || len(ids) != c.wantTasks || sum.Covered != c.wantCovered {
				t.Fatalf("summary %+v, %d tasks, err %v", sum, len(ids), err)
			}
			t.Logf("summary %+v", sum)
		})
	}
}

func TestClient_StreamTasks_WithoutMetaWalksToTheFirstEmptyPage(t *testing.T) {
	sim := retensim.New(t, retensim.WithTasks(250))
	sim.SetHostile(retensim.Hostile{NoMeta: true})
	var totals []int
	n := 0
	sum, err := newClient(t, sim, sim.APIKey()).StreamTasks(ctxT(t), schema.ListOptions{Concurrency: 8,
		Progress: func(_, total int) { totals = append(totals, total) }},
		func(_ int, tasks []schema.Task) error {
			n += len(tasks)
			return nil
		})
	if err != nil || !sum.Covered || n != 250 || sum.Total != 250 || sum.Pages != 4 {
		t.Fatalf("summary %+v, %d tasks, err %v", sum, n, err)
	}
	if got := sim.Requests(retensim.EndpointListTasks); got != 4 {
		t.Errorf("%d requests for 3 pages and the empty one that ends them", got)
	}
	if len(totals) != 4 || totals[3] != 0 {
		t.Errorf("progress totals %v: the total is unknown without meta", totals)
	}
}
