package main

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// BenchmarkDispatchLatency measures how long a pushed activity takes from Reten's POST to
// a core NATS subscriber of its subject (through the receiver, JetStream with PubAck, and
// the 200 answer), one push at a time. It reports the median and p99.
//
//	go test -run '^$' -bench DispatchLatency -benchtime 2000x ./cmd/reten-relay/
func BenchmarkDispatchLatency(b *testing.B) {
	a, _, natsURL := startPushOnly(b)
	url := "http://" + a.dispatchLn.Addr().String() + "/activities"
	nc, err := nats.Connect(natsURL)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	got := make(chan struct{}, 1)
	if _, err := nc.Subscribe("reten.tasks.dispatched.>", func(*nats.Msg) { got <- struct{}{} }); err != nil {
		b.Fatal(err)
	}
	_ = nc.Flush()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		body := fmt.Appendf(nil, `{"id":"bench-%d","channel":"WHATSAPP","status":"READY"}`, i)
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("x-api-key", pushKey)
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("push answered %d", resp.StatusCode)
		}
		<-got
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
