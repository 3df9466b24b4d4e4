package results

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/reten/reten-relay/schema"
)

// shutdownGrace is how long in-flight POSTs may run on after Run's ctx is done.
const shutdownGrace = 10 * time.Second

// queueDepth is how many messages wait for each worker. Messages are spread over workers
// by activity, so a worker stuck on a slow request would stall the receive loop (and with
// it every other worker) as soon as its queue is full: a deeper queue keeps the others busy.
const queueDepth = 32

// unknownTypeRefreshEvery limits re-reading the result types on a miss.
const unknownTypeRefreshEvery = 30 * time.Second

// Pipeline delivers result messages to Reten. Create it with New.
type Pipeline struct {
	cfg Config
	log zerolog.Logger

	types       atomic.Pointer[map[string]schema.ResultType]
	typesMu     sync.Mutex
	typesLoaded time.Time

	rate rateGate
	auth authGate

	deferMu  sync.Mutex
	deferred map[string]time.Time // ordering key → until when its messages go back
}

// New checks cfg, applies defaults and returns a pipeline; Run starts it.
func New(cfg Config) (*Pipeline, error) {
	cfg.defaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	p := &Pipeline{cfg: cfg, log: cfg.Logger, deferred: map[string]time.Time{}}
	if cfg.Health != nil {
		cfg.Health.Register(HealthComponent, "loading the tenant's result types")
	}
	return p, nil
}

// Run receives and settles messages until ctx is done, then stops receiving, lets
// in-flight submissions finish (for up to 10s) and gives unstarted messages back to the
// broker. It returns nil on a clean shutdown.
func (p *Pipeline) Run(ctx context.Context) error {
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(shutdownGrace, cancelWork)
		<-work.Done()
		t.Stop()
	})
	defer stop()

	if err := p.loadTypes(ctx); err != nil {
		return nil // ctx ended while waiting for Reten
	}
	go p.refreshTypesEvery(ctx)

	queues := make([]chan schema.Received, p.cfg.Concurrency)
	var wg sync.WaitGroup
	for i := range queues {
		queues[i] = make(chan schema.Received, queueDepth)
		wg.Add(1)
		go func(q chan schema.Received) {
			defer wg.Done()
			for m := range q {
				if ctx.Err() != nil {
					p.giveBack(work, m, 0)
					continue
				}
				p.handle(ctx, work, m)
			}
		}(queues[i])
	}
	p.receive(ctx, work, queues)
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	return nil
}

// receive reads messages and hands each to the worker of its ordering key, so results of
// one activity are handled one at a time, in order. It stops reading while the key is
// rejected.
func (p *Pipeline) receive(ctx, work context.Context, queues []chan schema.Received) {
	var lastErr string
	for ctx.Err() == nil {
		if err := p.auth.waitResumed(ctx); err != nil {
			return
		}
		m, err := p.cfg.Source.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if err.Error() != lastErr {
				p.log.Warn().Err(err).Msg("receiving result messages failed; retrying")
				lastErr = err.Error()
			}
			_ = sleep(ctx, time.Second)
			continue
		}
		lastErr = ""
		q := queues[queueIndex(orderingKey(m), len(queues))]
		select {
		case q <- m:
		case <-ctx.Done():
			p.giveBack(work, m, 0)
			return
		}
	}
}

// orderingKey is what results must not overtake each other on: the activity.
func orderingKey(m schema.Received) string {
	var ids struct {
		ActivityID         any `json:"activity_id"`
		ProviderActivityID any `json:"provider_activity_id"`
	}
	if json.Unmarshal(m.Body, &ids) == nil {
		if s, ok := ids.ActivityID.(string); ok && s != "" {
			return "a:" + s
		}
		if s, ok := ids.ProviderActivityID.(string); ok && s != "" {
			return "p:" + s
		}
	}
	return "k:" + m.Key
}

func queueIndex(key string, n int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// taskID names the activity of a message for outcomes and logs.
func taskID(msg *schema.ResultMessage) string {
	if msg == nil {
		return ""
	}
	if msg.ActivityID != "" {
		return msg.ActivityID
	}
	return msg.ProviderActivityID
}

// giveBack returns a message to the broker, to be delivered again after delay.
func (p *Pipeline) giveBack(ctx context.Context, m schema.Received, delay time.Duration) {
	if m.Retry == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := m.Retry(ctx, delay); err != nil {
		p.log.Warn().Err(err).Msg("giving a result message back to the broker failed; it is redelivered after its ack wait")
	}
}

// deferKey makes later messages of key wait until its held-back message came back.
func (p *Pipeline) deferKey(key string, until time.Time) {
	p.deferMu.Lock()
	defer p.deferMu.Unlock()
	p.deferred[key] = until
}

func (p *Pipeline) deferredUntil(key string) time.Time {
	p.deferMu.Lock()
	defer p.deferMu.Unlock()
	return p.deferred[key]
}

func (p *Pipeline) settledKey(key string) {
	p.deferMu.Lock()
	defer p.deferMu.Unlock()
	delete(p.deferred, key)
}

func (p *Pipeline) setHealth(ready bool, reason string) {
	if p.cfg.Health != nil {
		p.cfg.Health.Set(HealthComponent, ready, reason)
	}
}

// authReason says what is wrong with the key, naming the permission.
func authReason(err error) string {
	var st interface{ HTTPStatus() int }
	status := 0
	if errors.As(err, &st) {
		status = st.HTTPStatus()
	}
	perm := "SUBMIT_ACTIVITY_RESULT"
	var pe interface{ RequiredPermission() string }
	if errors.As(err, &pe) && pe.RequiredPermission() != "" {
		perm = pe.RequiredPermission()
	}
	if status == 403 {
		return fmt.Sprintf("reten rejected the key (403): missing permission %s", perm)
	}
	return fmt.Sprintf("reten rejected the key (%d): invalid, revoked or expired; it needs %s", status, perm)
}
