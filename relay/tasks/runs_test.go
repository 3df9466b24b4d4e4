package tasks_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/reten/reten-relay/relay/state"
	"github.com/reten/reten-relay/relay/tasks"
	"github.com/reten/reten-relay/schema"
)

// A first sync of several chunks commits its new tasks aside (relay/state's runs) until
// the listing's last commit. Whether that commit came, or the cycle was cancelled after
// the first chunks and the relay restarted, the next cycle knows every committed task:
// a changed one is updated with its previous version, and no task is created twice.
func TestPoller_ChunkedFirstSyncKnowsEveryTaskAfterwards(t *testing.T) {
	const n, chunk = 2_500, 1_000
	for _, cancelAtPage := range []int{0, 22} {
		name := "listing completed"
		if cancelAtPage > 0 {
			name = "cycle cancelled after two chunks, relay restarted"
		}
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			e := newEnv(t, func(c *tasks.Config) {
				c.ChunkSize = chunk
				c.List.Progress = func(done, _ int) {
					if done == cancelAtPage {
						cancel()
					}
				}
			})
			ts := make([]schema.Task, n)
			for i := range ts { // ids in no order, as Reten's are
				ts[i] = task(fmt.Sprintf("t%06d", i*7919%n), `"status":"PENDING"`)
			}
			e.lister.pageSize = 100
			e.lister.set(ts...)
			_, err := e.p.Cycle(ctx)
			if cancelAtPage == 0 && err != nil {
				t.Fatalf("first sync: %v", err)
			}
			if cancelAtPage > 0 {
				if err == nil {
					t.Fatal("first sync: no error from a cancelled cycle")
				}
				e.restart()
			}
			first := decodeAll(t, e.sink.take())

			// One task of the first chunk, one of the second and one of the last changes.
			changed := map[string]schema.Task{}
			next := append([]schema.Task(nil), ts...)
			for _, i := range []int{5, chunk + 5, n - 5} {
				next[i] = task(ts[i].ID, `"status":"DONE"`)
				changed[ts[i].ID] = ts[i]
			}
			e.lister.set(next...)
			_, second := e.cycle()

			created := map[string]int{}
			for _, ev := range append(first, second...) {
				if ev.Data.Op == schema.OpCreated {
					created[ev.Subject]++
				}
			}
			for _, tk := range ts {
				if created[tk.ID] != 1 {
					t.Fatalf("task %s created %d times over both cycles, want once", tk.ID, created[tk.ID])
				}
			}
			updated := 0
			for _, ev := range second {
				if ev.Data.Op != schema.OpUpdated {
					continue
				}
				updated++
				old, ok := changed[ev.Subject]
				if !ok || string(ev.Data.Previous) != string(old.Raw) {
					t.Errorf("updated %s: previous %s, want %s", ev.Subject, ev.Data.Previous, old.Raw)
				}
			}
			// The task of the first chunk was committed in any case; the others were
			// created by the second cycle when the first was cancelled before them.
			if updated < 1 || cancelAtPage == 0 && updated != len(changed) {
				t.Fatalf("%d updated events, want %d", updated, len(changed))
			}
			live := 0
			if err := e.store.LoadIndex(context.Background(), func(string, tasks.Entry) { live++ }); err != nil {
				t.Fatal(err)
			}
			if live != n {
				t.Fatalf("%d snapshot entries after the second cycle, want %d", live, n)
			}
			if rep, evs := e.cycle(); len(evs) != 0 || rep.Created+rep.Updated+rep.Deleted != 0 {
				t.Fatalf("an unchanged third cycle published %s", opsOf(evs))
			}
		})
	}
}

// mergeCounter is the state store, counting MergeRuns calls and the messages the sink
// held at each.
type mergeCounter struct {
	*state.Store
	sink      *fakeSink
	published []int
}

func (m *mergeCounter) MergeRuns(ctx context.Context) error {
	m.sink.mu.Lock()
	m.published = append(m.published, len(m.sink.msgs))
	m.sink.mu.Unlock()
	return m.Store.MergeRuns(ctx)
}

// The new tasks a chunked first sync kept aside are merged once its events are published,
// not in its last commit, where the merge held back the last chunk; a cycle that needed
// no chunk leaves nothing to merge.
func TestPoller_MergesTheRunsOnceAChunkedSyncIsPublished(t *testing.T) {
	const n, chunk = 2_500, 1_000
	e := newEnv(t, func(c *tasks.Config) { c.ChunkSize = chunk })
	merges := &mergeCounter{Store: e.store, sink: e.sink}
	cfg := e.cfg
	cfg.Store = merges
	p, err := tasks.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := make([]schema.Task, n)
	for i := range ts {
		ts[i] = task(fmt.Sprintf("t%06d", i*7919%n), `"status":"PENDING"`)
	}
	e.lister.pageSize = 100
	e.lister.set(ts...)
	if rep, err := p.Cycle(context.Background()); err != nil || rep.Created != n {
		t.Fatalf("first sync: %+v, %v", rep, err)
	}
	// The first cycle asks once before it lists (a stopped relay may have left runs).
	if want := []int{0, n}; !slices.Equal(merges.published, want) {
		t.Fatalf("merges at %v messages published, want at %v", merges.published, want)
	}
	e.lister.set(append(ts, task("t999999", `"status":"PENDING"`))...)
	if rep, err := p.Cycle(context.Background()); err != nil || rep.Created != 1 {
		t.Fatalf("second cycle: %+v, %v", rep, err)
	}
	if len(merges.published) != 2 {
		t.Fatalf("a cycle without chunks asked for a merge: %v", merges.published)
	}
}
