package tasks_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/reten/reten-relay/relay"
	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/relay/tasks"
	"github.com/reten/reten-relay/schema"
)

// gatedSink holds every Publish until open is closed.
type gatedSink struct {
	open chan struct{}
	mu   sync.Mutex
	n    int
}

func (s *gatedSink) Publish(ctx context.Context, msgs []schema.Message) error {
	select {
	case <-s.open:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n += len(msgs)
	return nil
}

func (s *gatedSink) Close(context.Context) error { return nil }

func (s *gatedSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// A first sync larger than two chunks, to a sink that confirms nothing yet: Run's drainer
// is publishing during the listing, and the listing stops committing once two chunks
// wait, so the outbox (and the state file) does not take the whole tenant. When the sink
// confirms, the rest follows.
func TestPoller_LargeListingWaitsForTheSinksBacklog(t *testing.T) {
	const n, chunk = 2_500, 1_000 // two and a half chunks
	sink := &gatedSink{open: make(chan struct{})}
	var pages atomic.Int64
	var log relaytest.LogBuffer
	e := newEnv(t, func(c *tasks.Config) {
		c.Sinks = map[string]relay.Sink{"nats": sink}
		c.ChunkSize = chunk
		c.List.Progress = func(done, _ int) { pages.Store(int64(done)) }
		c.Logger = zerolog.New(&log).Level(zerolog.DebugLevel)
	})
	ts := make([]schema.Task, n)
	for i := range ts {
		ts[i] = task(fmt.Sprintf("t%06d", i))
	}
	e.lister.pageSize = 100
	e.lister.set(ts...)
	cycles := make(chan tasks.CycleReport, 10)
	e.cfg.OnCycle = func(rep tasks.CycleReport, _ error) { cycles <- rep }
	e.restart()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.p.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	pending := func() int {
		m, err := e.store.Pending(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return m["nats"]
	}
	relaytest.WaitFor(t, 30*time.Second, "every page listed and the last chunk waiting for the sink", func() bool {
		return pages.Load() == n/100 && strings.Contains(log.String(), "listing waits for the sink")
	})
	select {
	case rep := <-cycles:
		t.Fatalf("the first cycle ended while the sink confirmed nothing: %+v", rep)
	default:
	}
	if got := pending(); got != 2*chunk {
		t.Fatalf("%d messages waiting, want the listing held at %d", got, 2*chunk)
	}
	close(sink.open)
	select {
	case rep := <-cycles:
		if rep.Created != n || !rep.Complete {
			t.Fatalf("first cycle: %+v", rep)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the first cycle did not end after the sink opened")
	}
	relaytest.WaitFor(t, 30*time.Second, "every event published", func() bool { return sink.count() == n && pending() == 0 })
}
