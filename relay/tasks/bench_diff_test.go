package tasks

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/reten/reten-relay/relay"
	"github.com/reten/reten-relay/schema"
)

// benchTasks is the benchmarks' task count.
const benchTasks = 100_000

// benchTask renders a task of about 1 KB, shaped like Reten's list items; version changes
// its content.
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

type benchRouter struct{}

func (benchRouter) Route(schema.Event) []relay.Target { return nil }

type benchSink struct{}

func (benchSink) Publish(context.Context, []schema.Message) error { return nil }
func (benchSink) Close(context.Context) error                     { return nil }

// unusedStore satisfies StateStore; the diff benchmark never reaches the store.
type unusedStore struct{ StateStore }

// BenchmarkDiffUnchanged diffs 100,000 unchanged ~1 KB tasks, in pages of 100 as they
// arrive from a listing, against the in-memory index.
func BenchmarkDiffUnchanged(b *testing.B) {
	p, err := New(Config{Source: "https://api.reten.test", Lister: nopLister{}, Router: benchRouter{},
		Sinks: map[string]relay.Sink{"s": benchSink{}}, Store: unusedStore{}})
	if err != nil {
		b.Fatal(err)
	}
	listing := make([]schema.Task, benchTasks)
	p.idx = newIndex()
	var bytes int
	for i := range listing {
		listing[i] = benchTask(i, 0)
		bytes += len(listing[i].Raw)
		p.idx.put(listing[i].ID, Entry{RawHash: rawHash(listing[i].Raw), ChangeNo: 1})
	}
	meta := Meta{Synced: true}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for b.Loop() {
		w := newWalk(p.idx, defaultChunkSize)
		for lo := 0; lo < len(listing); lo += 100 {
			if err := w.page(lo/100+1, listing[lo:lo+100]); err != nil {
				b.Fatal(err)
			}
		}
		if pl := w.plan(meta, true); len(pl.updates) != 0 {
			b.Fatalf("diff: %d updates", len(pl.updates))
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	n := float64(b.N) * benchTasks
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/task")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "allocs/task")
	b.ReportMetric(float64(bytes)/benchTasks, "bytes/task")
}

// nopLister lists nothing.
type nopLister struct{}

func (nopLister) StreamTasks(context.Context, schema.ListOptions, schema.PageFunc) (schema.ListSummary, error) {
	return schema.ListSummary{Covered: true}, nil
}

func (nopLister) TaskExists(context.Context, schema.Task) (bool, bool, error) {
	return false, false, nil
}
