package tasks_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/reten/reten-relay/relay"
	"github.com/reten/reten-relay/relay/state"
	"github.com/reten/reten-relay/relay/tasks"
	"github.com/reten/reten-relay/schema"
)

// instantSink confirms every message at once.
type instantSink struct{ n int }

func (s *instantSink) Publish(_ context.Context, msgs []schema.Message) error {
	s.n += len(msgs)
	return nil
}
func (s *instantSink) Close(context.Context) error { return nil }

// staticLister returns the same slice every time.
type staticLister struct{ tasks []schema.Task }

func (l *staticLister) StreamTasks(_ context.Context, _ schema.ListOptions, fn schema.PageFunc) (schema.ListSummary, error) {
	for lo := 0; lo < len(l.tasks); lo += 100 {
		if err := fn(lo/100+1, l.tasks[lo:min(lo+100, len(l.tasks))]); err != nil {
			return schema.ListSummary{}, err
		}
	}
	return schema.ListSummary{Total: len(l.tasks), Pages: (len(l.tasks) + 99) / 100, Tasks: len(l.tasks), Covered: true}, nil
}

func (l *staticLister) TaskExists(context.Context, schema.Task) (bool, bool, error) {
	return false, false, nil
}

func benchTask(i, version int) schema.Task {
	id := fmt.Sprintf("a1b2c3d4-e5f6-7890-abcd-%012d", i)
	raw := fmt.Sprintf(`{"id":%q,"activityOrigin":"ACTIVITY","type":"TASK","status":"PENDING","channel":"SALESMAN",`+
		`"scheduledAt":"2026-04-15T09:00:00.000Z","occurredAt":null,"createdAt":"2026-04-10T14:30:00.000Z",`+
		`"lifecycleStatus":"SCHEDULED","lifecycleStatusLabel":"Programada","lifecycleStatusDetail":null,`+
		`"canForceRetryDispatch":false,"commerceExternalId":"COM-%06d","commerceName":"Almacén número %d",`+
		`"version":%d,"notes":%q}`, id, i, i, version,
		"visit the store, check the shelves, talk to the owner about the promotion of the month and record the answer; "+
			"if the owner is absent, reschedule for another day within the week and leave the leaflet at the counter. "+
			"Remember to take pictures of the display and of the competitor's products. Lorem ipsum dolor sit amet, "+
			"consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua quis nostrud.")
	return schema.Task{ID: id, Raw: []byte(raw)}
}

// BenchmarkCycle runs whole cycles over 100,000 ~1 KB tasks of which 1% changed: list,
// diff, commit snapshot and outbox to bbolt (fsynced), publish to a sink that confirms at
// once, remove from the outbox.
func BenchmarkCycle(b *testing.B) {
	const n, changed = 100_000, 1_000
	st, err := state.Open(filepath.Join(b.TempDir(), "tasks.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	lister := &staticLister{tasks: make([]schema.Task, n)}
	for i := range lister.tasks {
		lister.tasks[i] = benchTask(i, 0)
	}
	sink := &instantSink{}
	p, err := tasks.New(tasks.Config{
		Source: "https://api.reten.test", Lister: lister, Store: st, PublishBatch: 500,
		Router: routerFunc(func(ev schema.Event) []relay.Target {
			return []relay.Target{{Sink: "nats", Destination: "reten.tasks." + string(ev.Data.Op)}}
		}),
		Sinks: map[string]relay.Sink{"nats": sink},
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := p.Cycle(ctx); err != nil { // initial sync, not announced
		b.Fatal(err)
	}
	version, next := 0, 0
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		version++
		for range changed {
			lister.tasks[next] = benchTask(next, version)
			next = (next + 1) % n
		}
		b.StartTimer()
		rep, err := p.Cycle(ctx)
		if err != nil || rep.Updated != changed || rep.Published != changed {
			b.Fatalf("cycle: %v, report %+v", err, rep)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/task")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/changed, "ns/change")
}
