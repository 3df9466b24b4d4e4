package kafkasink_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/sinks/kafkasink"
)

// BenchmarkPublishFlights measures the tasks drain's pattern: several Publish calls of
// ~1 KB messages with distinct keys in flight at once, to one topic of the broker's
// default partition count.
func BenchmarkPublishFlights(b *testing.B) {
	for _, c := range []struct{ batch, flights int }{{1000, 3}, {5000, 3}, {10000, 2}} {
		b.Run(fmt.Sprintf("batch%d_flights%d", c.batch, c.flights), func(b *testing.B) {
			k := relaytest.StartKafka(b)
			s := newSink(b, k.Brokers(), kafkasink.Config{CreateTopics: true})
			body := make([]byte, 1024)
			for i := range body {
				body[i] = 'x'
			}
			ctx := testContext(b)
			if err := s.EnsureTopics(ctx, []string{"bench"}); err != nil {
				b.Fatal(err)
			}
			n := 0
			for b.Loop() {
				var wg sync.WaitGroup
				for range c.flights {
					msgs := make([]schema.Message, c.batch)
					for j := range msgs {
						n++
						msgs[j] = schema.Message{Destination: "bench", Key: fmt.Sprintf("task-%d", n), ID: fmt.Sprint(n), Body: body}
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						if err := s.Publish(ctx, msgs); err != nil {
							b.Errorf("publish: %v", err)
						}
					}()
				}
				wg.Wait()
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
