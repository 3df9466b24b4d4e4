package reten_test

import (
	"context"
	"testing"

	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/sources/reten/retensim"
)

// BenchmarkStreamTasks_100k lists 100,000 tasks from the simulator over its socket, 1,000
// pages at concurrency 16, with a churn of one change per page. The simulator encodes its
// pages in the same process, so this measures client and simulator together.
func BenchmarkStreamTasks_100k(b *testing.B) {
	sim := retensim.New(b, retensim.WithTasks(100_000), retensim.WithSeed(1))
	sim.OnPageServed(func(int) { sim.Churn(1) })
	c := newClient(b, sim, sim.APIKey())
	b.ReportAllocs()
	tasks := 0
	for b.Loop() {
		sum, err := c.StreamTasks(context.Background(), schema.ListOptions{Concurrency: 16}, func(_ int, ts []schema.Task) error {
			tasks += len(ts)
			return nil
		})
		if err != nil || sum.Pages < 1000 {
			b.Fatal(err, sum)
		}
	}
	b.ReportMetric(float64(tasks)/b.Elapsed().Seconds(), "tasks/s")
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/listing")
}
