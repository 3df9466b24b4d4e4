package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
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

func benchBody(i int) []byte {
	return fmt.Appendf(nil, `{"activity_id":"bench-%d","commerce_external_id":"COM-1","occurred_at":"2026-04-11T10:30:00Z","status":"EFFECTIVE","task_result":{"result":"SALE_COMPLETED"}}`, i)
}

// BenchmarkResults measures results/s from JetStream through the relay into a simulator
// that takes 20ms per POST, next to a plain loop of net/http POSTs at the same concurrency:
// the ratio is what the relay's validation, ordering, acks and broker round-trips cost.
func BenchmarkResults(b *testing.B) {
	for _, conc := range []int{8, 32, 128} {
		b.Run(fmt.Sprintf("relay/concurrency=%d", conc), func(b *testing.B) { benchRelay(b, conc) })
		b.Run(fmt.Sprintf("plain-http/concurrency=%d", conc), func(b *testing.B) { benchPlainHTTP(b, conc) })
	}
}

func benchRelay(b *testing.B, conc int) {
	sim := retensim.New(b, retensim.WithStandaloneResults(true), retensim.WithLatency(benchLatency))
	n := relaytest.StartNATS(b)
	yaml := fmt.Sprintf(`
reten: {url: %q, api_key: %q}
nats: {url: %q}
results: {subject: "reten.results.>", concurrency: %d, ack_wait: 1m, dead_letter: reten.dlq.results}
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
	for i := range b.N {
		if _, err := js.PublishAsync("reten.results.bench", benchBody(i)); err != nil {
			b.Fatal(err)
		}
	}
	<-js.PublishAsyncComplete()
	deadline := time.Now().Add(5 * time.Minute)
	for len(sim.Results()) < b.N {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d results arrived", len(sim.Results()), b.N)
		}
		time.Sleep(2 * time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "results/s")
}

func benchPlainHTTP(b *testing.B, conc int) {
	sim := retensim.New(b, retensim.WithStandaloneResults(true), retensim.WithLatency(benchLatency))
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = conc
	client := &http.Client{Transport: tr}
	url := sim.URL() + "/api/integration/activity-results/tasks"
	next := make(chan int)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(benchBody(i)))
				req.Header.Set("x-api-key", sim.APIKey())
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					continue
				}
				resp.Body.Close()
			}
		}()
	}
	for i := range b.N {
		next <- i
	}
	close(next)
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "results/s")
}
