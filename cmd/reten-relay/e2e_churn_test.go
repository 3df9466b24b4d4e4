package main

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/sources/reten/retensim"
)

// churnTasks is the CI-sized tenant of the churn test (see churnSize for the full size).
const churnTasks = 10_000

// TestE2E_Tasks_ChurnProgressesWithoutPhantomDeletes lists a tenant that keeps changing
// while it is walked (tasks added, updated and deleted between pages, so pages shift), with
// a failing page every fourth cycle. Every cycle publishes the changes it saw, a delete only
// ever names a task that is really gone, and once the churn stops the subscriber's events
// rebuild the simulator's task set.
func TestE2E_Tasks_ChurnProgressesWithoutPhantomDeletes(t *testing.T) {
	runChurn(t, churnSize(t), 8)
}

func runChurn(t *testing.T, n, cycles int) {
	e := newE2E(t, retensim.WithTasks(n), retensim.WithSeed(11))
	e.concurrency = 16 // as a large tenant's operator would set it
	sub := e.subscribe()
	a := e.app("", appOptions{})
	cycle(t, a)
	relaytest.WaitFor(t, 2*e2eWait, "the first sync", func() bool { return sub.count(schema.OpCreated) == n })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pages := (n + 99) / 100
	for i := range cycles {
		e.sim.Churn(3) // changes for this cycle to see
		e.sim.OnPageServed(func(page int) {
			if page%(pages/4+1) == 0 {
				e.sim.Churn(3) // and more while it walks: pages shift
			}
		})
		if i%4 == 1 { // a page that keeps failing costs the client's retry budget: seconds
			e.sim.FailPage(1+i%pages, 500)
		}
		before := len(sub.snapshot())
		rep, err := a.poller.Cycle(ctx)
		e.sim.OnPageServed(nil)
		e.sim.ClearFaults()
		if ctx.Err() != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		if rep.Created+rep.Updated == 0 {
			t.Fatalf("cycle %d (err %v) published no create or update of the changes before it: %+v", i, err, rep)
		}
		want := before + rep.Created + rep.Updated + rep.Deleted
		relaytest.WaitFor(t, e2eWait, "the cycle's events", func() bool { return len(sub.snapshot()) >= want })
		t.Logf("cycle %d: complete %v, %d created, %d updated, %d deleted, %d suspected (err %v)",
			i, rep.Complete, rep.Created, rep.Updated, rep.Deleted, rep.Suspected, err)
		noPhantomDeletes(t, e, sub)
	}
	for range 3 { // churn stopped: suspects confirmed, then nothing left to do
		_, _ = a.poller.Cycle(ctx)
	}
	relaytest.WaitFor(t, e2eWait, "the subscriber's set to equal the simulator's", func() bool {
		return sameTaskSets(t, sub.taskSet(), simSet(t, e.sim))
	})
	noPhantomDeletes(t, e, sub)
}

// noPhantomDeletes fails when a deleted event names a task the simulator still has (task
// ids are never reused, so a deleted task never comes back).
func noPhantomDeletes(t *testing.T, e *e2e, sub *subscriber) {
	for _, ev := range sub.snapshot() {
		if ev.Data.Op != schema.OpDeleted {
			continue
		}
		if _, ok := e.sim.Task(ev.Subject); ok {
			t.Fatalf("phantom delete: %s still exists", ev.Subject)
		}
	}
}

// churnSize is the tenant size: churnTasks, or RETEN_CHURN_TASKS for the full-size run
// (RETEN_CHURN_TASKS=100000 go test -run Churn -timeout 30m ./cmd/reten-relay/).
func churnSize(t *testing.T) int {
	s := os.Getenv("RETEN_CHURN_TASKS")
	if s == "" {
		return churnTasks
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 100 {
		t.Fatalf("RETEN_CHURN_TASKS=%q: want a number >= 100", s)
	}
	return n
}
