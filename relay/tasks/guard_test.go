package tasks_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/reten/reten-relay/relay/ops"
	"github.com/reten/reten-relay/relay/tasks"
	"github.com/reten/reten-relay/schema"
)

func TestPoller_MassDeleteGuard(t *testing.T) {
	for _, tc := range []struct {
		name     string
		snapshot int
		after    int // tasks still listed
		// held says, per complete listing after the suspicion one, whether deletes are held.
		held        []bool
		wantDeleted int
	}{
		{"an emptied listing is held until ConfirmCycles listings agree", 3, 0, []bool{true, true, false}, 3},
		{"deleting more than MaxShare of a big snapshot is held", 20, 5, []bool{true, true, false}, 15},
		{"deleting up to MaxShare goes out at once", 20, 10, []bool{false}, 10},
		{"a small snapshot is not guarded by share", 4, 1, []bool{false}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := ops.NewMetrics()
			e := newEnv(t, func(c *tasks.Config) { c.Metrics = m })
			all := manyTasks(tc.snapshot)
			e.lister.set(all...)
			e.cycle()
			e.lister.set(all[:tc.after]...)
			if rep, evs := e.cycle(); len(evs) != 0 || rep.Suspected != tc.snapshot-tc.after {
				t.Fatalf("suspicion listing: events %q suspected %d", opsOf(evs), rep.Suspected)
			}
			for i, held := range tc.held {
				rep, evs := e.cycle()
				if held {
					if len(evs) != 0 || rep.HeldDeletes != tc.wantDeleted {
						t.Fatalf("listing %d: events %q held %d, want none published and %d held", i, opsOf(evs), rep.HeldDeletes, tc.wantDeleted)
					}
					if got := testutil.ToFloat64(m.DeletesHeld); got != float64(tc.wantDeleted) {
						t.Errorf("deletes held metric = %v", got)
					}
					continue
				}
				if rep.Deleted != tc.wantDeleted || len(evs) != tc.wantDeleted || evs[0].Data.Op != schema.OpDeleted {
					t.Fatalf("listing %d: deleted %d events %d, want %d deletes released", i, rep.Deleted, len(evs), tc.wantDeleted)
				}
			}
		})
	}
}

func TestPoller_GuardCountResetsWhenTasksComeBack(t *testing.T) {
	e := newEnv(t)
	all := manyTasks(3)
	e.lister.set(all...)
	e.cycle()
	e.lister.set()
	e.cycle() // suspected
	e.cycle() // held 1
	e.cycle() // held 2
	e.lister.set(all...)
	if _, evs := e.cycle(); len(evs) != 0 {
		t.Fatalf("tasks came back: events %q, want none", opsOf(evs))
	}
	e.lister.set()
	e.cycle() // suspected again
	for i := range 2 {
		if rep, _ := e.cycle(); rep.HeldDeletes != 3 {
			t.Fatalf("listing %d after reset: held %d, want 3 (count restarted)", i, rep.HeldDeletes)
		}
	}
}

func TestPoller_GuardCountSurvivesRestart(t *testing.T) {
	e := newEnv(t)
	e.lister.set(manyTasks(3)...)
	e.cycle()
	e.lister.set()
	e.cycle() // suspected
	e.cycle() // held 1
	e.restart()
	e.cycle() // held 2
	e.restart()
	if rep, _ := e.cycle(); rep.Deleted != 3 {
		t.Fatalf("third agreeing listing across restarts deleted %d, want 3", rep.Deleted)
	}
}
