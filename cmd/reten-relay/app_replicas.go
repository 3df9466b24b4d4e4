package main

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/reten/reten-relay/relay"
	"github.com/reten/reten-relay/relay/config"
	"github.com/reten/reten-relay/relay/tasks"
	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/sinks/natsstate"
)

// replicaState is what a relay with a nats-kv state needs to run the poller whenever it
// holds the lease.
type replicaState struct {
	name  string
	store *natsstate.Store

	mu   sync.Mutex
	pcfg tasks.Config // each term's Poller is made from this; reload swaps its Router
	role string       // "holder" or "follower", for logging changes once
}

// replicaName is tasks.replica, or the host name (a pod's name in Kubernetes).
func replicaName(tc *config.TasksConfig) string {
	if tc.Replica != "" {
		return tc.Replica
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return fmt.Sprintf("pid-%d", os.Getpid())
}

// buildReplicas opens the KV state on the NATS sink's connection (so it connects the
// same way, credentials included) and prepares the per-term poller.
func (a *app) buildReplicas(ctx context.Context, cfg *config.Config, pcfg tasks.Config) error {
	tc := cfg.Tasks
	r := &replicaState{name: replicaName(tc), pcfg: pcfg}
	if a.nats == nil {
		return fmt.Errorf("tasks.state %s: needs nats", tc.State)
	}
	st, err := natsstate.Open(ctx, a.nats.Conn(), natsstate.Config{
		Bucket: tc.StateBucket(), LeaseTTL: tc.LeaseTTL, Replica: r.name,
		Logger:  a.log.With().Str("component", "tasks.lease").Logger(),
		OnLease: a.onLease,
	})
	if err != nil {
		return fmt.Errorf("tasks.state %s: %w", tc.State, err)
	}
	r.store = st
	holding := st.Lease().Holding
	r.pcfg.Store = st
	r.pcfg.Sinks = fenceSinks(r.pcfg.Sinks, holding)
	r.pcfg.Lister = fencedLister{Lister: r.pcfg.Lister, holding: holding}
	a.replicas = r
	// A follower is ready: it stands by. The holder's poller reports its own readiness.
	a.health.Set(tasks.HealthComponent, true, "")
	a.health.SetInfo("replica", r.name)
	a.metrics.LeaseHolder.WithLabelValues(r.name).Set(0)
	a.log.Info().Str("replica", r.name).Str("bucket", st.Bucket()).Stringer("lease_ttl", tc.LeaseTTL).
		Msg("tasks: state in a JetStream KV bucket; polling whenever this replica holds the lease")
	return nil
}

// runReplica campaigns for the lease and runs a fresh poller for each term: it loads the
// shared snapshot and drains the shared outbox, so a take-over continues where the last
// holder stopped.
func (a *app) runReplica(ctx context.Context) error {
	r := a.replicas
	return r.store.Lease().Run(ctx, func(ctx context.Context) error {
		r.mu.Lock()
		p, err := tasks.New(r.pcfg)
		r.mu.Unlock()
		if err != nil {
			return fmt.Errorf("tasks: %w", err)
		}
		a.setPoller(p)
		defer a.setPoller(nil)
		return p.Run(ctx)
	})
}

func (a *app) setPoller(p *tasks.Poller) {
	a.replicas.mu.Lock()
	defer a.replicas.mu.Unlock()
	a.poller = p
}

// currentPoller is the poller running now (nil on a follower).
func (a *app) currentPoller() *tasks.Poller {
	if a.replicas == nil {
		return a.poller
	}
	a.replicas.mu.Lock()
	defer a.replicas.mu.Unlock()
	return a.poller
}

// setRouter makes router the routes of the running poller and of every later term.
func (a *app) setRouter(router relay.Router) {
	if r := a.replicas; r != nil {
		r.mu.Lock()
		r.pcfg.Router = router
		r.mu.Unlock()
	}
	if p := a.currentPoller(); p != nil {
		p.SetRouter(router)
	}
}

// onLease keeps /metrics, /readyz and the log in step with the lease.
func (a *app) onLease(holding bool, holder string) {
	r := a.replicas
	if r == nil { // during Open, before buildReplicas finished
		return
	}
	role := "follower"
	v := 0.0
	if holding {
		role, v = "holder", 1
	}
	a.metrics.LeaseHolder.WithLabelValues(r.name).Set(v)
	a.health.SetInfo("role", role)
	a.health.SetInfo("lease_holder", holder)
	r.mu.Lock()
	changed := r.role != role
	r.role = role
	r.mu.Unlock()
	if !changed {
		return
	}
	if holding {
		a.metrics.LeaseAcquired.Inc()
		return
	}
	// The poller of the last term is gone; standing by is ready.
	a.health.Set(tasks.HealthComponent, true, "")
	a.log.Info().Str("replica", r.name).Str("holder", holder).Msg("tasks: standing by (another replica polls)")
}

// fencedSink refuses to publish as soon as this replica's lease is no longer valid by its
// own clock: the check is synchronous, so a replica that was paused past its lease
// publishes nothing when it wakes, even before its term's ctx is cancelled.
type fencedSink struct {
	relay.Sink
	holding func() bool
}

// Publish publishes only while the lease is held.
func (s fencedSink) Publish(ctx context.Context, msgs []schema.Message) error {
	if !s.holding() {
		return natsstate.ErrNotHolder
	}
	return s.Sink.Publish(ctx, msgs)
}

// MaxMessageBytes passes the sink's limit through (0: none known).
func (s fencedSink) MaxMessageBytes() int {
	if l, ok := s.Sink.(interface{ MaxMessageBytes() int }); ok {
		return l.MaxMessageBytes()
	}
	return 0
}

// fencedLister asks Reten only while the lease is held, page by page.
type fencedLister struct {
	relay.Lister
	holding func() bool
}

// StreamTasks lists while the lease is held; a page that arrives after it ran out stops
// the listing.
func (l fencedLister) StreamTasks(ctx context.Context, opts schema.ListOptions, fn schema.PageFunc) (schema.ListSummary, error) {
	if !l.holding() {
		return schema.ListSummary{}, natsstate.ErrNotHolder
	}
	return l.Lister.StreamTasks(ctx, opts, func(page int, tasks []schema.Task) error {
		if !l.holding() {
			return natsstate.ErrNotHolder
		}
		return fn(page, tasks)
	})
}

// TaskExists asks only while the lease is held.
func (l fencedLister) TaskExists(ctx context.Context, task schema.Task) (bool, bool, error) {
	if !l.holding() {
		return false, false, natsstate.ErrNotHolder
	}
	return l.Lister.TaskExists(ctx, task)
}

func fenceSinks(sinks map[string]relay.Sink, holding func() bool) map[string]relay.Sink {
	out := make(map[string]relay.Sink, len(sinks))
	for name, s := range sinks {
		out[name] = fencedSink{Sink: s, holding: holding}
	}
	return out
}
