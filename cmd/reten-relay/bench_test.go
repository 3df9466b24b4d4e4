package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/reten/reten-relay/relay/config"
	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/sources/reten/retensim"
)

// benchLatency is how long the simulated Reten takes to answer each POST.
const benchLatency = 20 * time.Millisecond

// benchN is how many results one benchmark iteration moves: enough that start-up and the
// tail of the last retries do not dominate.
const benchN = 10_000

// benchBody is a result for its own activity: no two results share an ordering key, as in
// production where an activity has one result.
func benchBody(iter, i int) []byte {
	return fmt.Appendf(nil, `{"activity_id":"bench-%d-%d","commerce_external_id":"COM-1","occurred_at":"2026-04-11T10:30:00Z","status":"EFFECTIVE","task_result":{"result":"SALE_COMPLETED","comment":"Visited the store; the owner ordered the weekly assortment."}}`, iter, i)
}

// BenchmarkResults measures results/s from JetStream through the relay into a simulator
// that takes 20ms per POST, next to a plain loop of net/http POSTs at the same concurrency
// (which retries a failed POST after 100ms in its slot). The fault mode answers 20% of
// POSTs 503: a retry that holds no worker keeps the relay near concurrency/latency × 0.8.
// Each iteration moves benchN results; run with -benchtime=1x.
func BenchmarkResults(b *testing.B) {
	for _, c := range []struct {
		conc int
		fail float64
	}{{8, 0}, {32, 0}, {128, 0}, {32, 0.2}} {
		name := fmt.Sprintf("concurrency=%d/fail503=%.1f", c.conc, c.fail)
		b.Run("relay/"+name, func(b *testing.B) { benchRelay(b, c.conc, c.fail) })
		b.Run("plain-http/"+name, func(b *testing.B) { benchPlainHTTP(b, c.conc, c.fail) })
	}
}

func benchSim(b *testing.B, fail float64) *retensim.Sim {
	sim := retensim.New(b, retensim.WithStandaloneResults(true), retensim.WithLatency(benchLatency))
	if fail > 0 {
		sim.SetFailureRate(retensim.EndpointSubmit, fail, retensim.FaultStatus(http.StatusServiceUnavailable))
	}
	return sim
}

func benchRelay(b *testing.B, conc int, fail float64) {
	sim := benchSim(b, fail)
	n := relaytest.StartNATS(b)
	yaml := fmt.Sprintf(`
reten: {url: %q, api_key: %q}
nats: {url: %q}
results: {subject: "reten.results.>", concurrency: %d, dead_letter: reten.dlq.results}
http: {listen: "127.0.0.1:0"}
`, sim.URL(), sim.APIKey(), n.URL(), conc)
	cfg, err := config.Load(filepath.Join(b.TempDir(), "bench.yaml"), []byte(yaml), nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := build(ctx, cfg, zerolog.Nop(), appOptions{})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	nc, err := nats.Connect(n.URL())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)

	b.ResetTimer()
	start := time.Now()
	for iter := range b.N {
		for i := range benchN {
			if _, err := js.PublishAsync("reten.results.bench", benchBody(iter, i)); err != nil {
				b.Fatal(err)
			}
			if i%1000 == 999 {
				<-js.PublishAsyncComplete()
			}
		}
		<-js.PublishAsyncComplete()
		want := (iter + 1) * benchN
		deadline := time.Now().Add(5 * time.Minute)
		for len(sim.Results()) < want {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d results arrived", len(sim.Results()), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(b.N*benchN)/elapsed.Seconds(), "results/s")
	b.ReportMetric(float64(sim.Requests(retensim.EndpointSubmit))/float64(b.N*benchN), "POSTs/result")
}

func benchPlainHTTP(b *testing.B, conc int, fail float64) {
	sim := benchSim(b, fail)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = conc
	client := &http.Client{Transport: tr}
	url := sim.URL() + "/api/integration/activity-results/tasks"
	post := func(body []byte) bool {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("x-api-key", sim.APIKey())
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode < 300
	}
	b.ResetTimer()
	start := time.Now()
	for iter := range b.N {
		next := make(chan int)
		var wg sync.WaitGroup
		for range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					for body := benchBody(iter, i); !post(body); {
						time.Sleep(100 * time.Millisecond)
					}
				}
			}()
		}
		for i := range benchN {
			next <- i
		}
		close(next)
		wg.Wait()
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(b.N*benchN)/elapsed.Seconds(), "results/s")
	b.ReportMetric(float64(sim.Requests(retensim.EndpointSubmit))/float64(b.N*benchN), "POSTs/result")
}

// BenchmarkResultsBacklogRetenDown loads 100,000 results, then runs the relay for 20s
// against a Reten that answers every POST 503, and reports the peak RSS of the process
// (NATS with its store, the simulator and the relay) over the RSS once the backlog was
// loaded: what the relay holds stays bounded by results' buffer cap, not by the backlog.
func BenchmarkResultsBacklogRetenDown(b *testing.B) {
	const backlog = 100_000
	for range b.N {
		sim := benchSim(b, 1)
		n := relaytest.StartNATS(b)
		nc, err := nats.Connect(n.URL())
		if err != nil {
			b.Fatal(err)
		}
		js, _ := jetstream.New(nc)
		ctx, cancel := context.WithCancel(context.Background())
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "RETEN_RESULTS", Subjects: []string{"reten.results.>"}}); err != nil {
			b.Fatal(err)
		}
		for i := range backlog {
			if _, err := js.PublishAsync("reten.results.bench", benchBody(0, i)); err != nil {
				b.Fatal(err)
			}
			if i%1000 == 999 {
				<-js.PublishAsyncComplete()
			}
		}
		<-js.PublishAsyncComplete()
		loaded := rssMiB()
		yaml := fmt.Sprintf(`
reten: {url: %q, api_key: %q}
nats: {url: %q}
results: {subject: "reten.results.>", concurrency: 32, dead_letter: reten.dlq.results}
http: {listen: "127.0.0.1:0"}
`, sim.URL(), sim.APIKey(), n.URL())
		cfg, err := config.Load(filepath.Join(b.TempDir(), "bench.yaml"), []byte(yaml), nil)
		if err != nil {
			b.Fatal(err)
		}
		a, err := build(ctx, cfg, zerolog.Nop(), appOptions{})
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan error)
		go func() { done <- a.Run(ctx) }()
		peak := loaded
		for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			peak = max(peak, rssMiB())
		}
		cancel()
		<-done
		nc.Close()
		b.ReportMetric(float64(loaded), "MiB-RSS-loaded")
		b.ReportMetric(float64(peak), "MiB-RSS-peak")
		b.ReportMetric(float64(sim.Requests(retensim.EndpointSubmit)), "POSTs-in-20s")
	}
}

// rssMiB is this process's resident set size in MiB (VmRSS).
func rssMiB() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.Atoi(f[1])
			return kb / 1024
		}
	}
	return 0
}
