package retensim_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/reten/reten-relay/sources/reten/retensim"
)

// BenchmarkSim_ListPage is one page of 100 from the middle of 100,000 tasks, over the
// socket, while a churn of changes runs between pages.
func BenchmarkSim_ListPage(b *testing.B) {
	sim := retensim.New(b, retensim.WithTasks(100_000), retensim.WithSeed(1))
	hc := &http.Client{}
	get := func(page int) {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/integration/activities/tasks?per_page=100&page=%d", sim.URL(), page), nil)
		req.Header.Set("x-api-key", sim.APIKey())
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatal(resp.Status)
		}
	}
	i := 0
	for b.Loop() {
		i++
		sim.Churn(1)
		get(1 + (i*37)%1000)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/page")
}
