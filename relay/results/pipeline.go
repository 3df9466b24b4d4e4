package results

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/reten/reten-relay/schema"
)

// shutdownGrace is how long in-flight POSTs may run on after Run's ctx is done.
const shutdownGrace = 10 * time.Second

// unknownTypeRefreshEvery limits re-reading the result types on a miss.
const unknownTypeRefreshEvery = 30 * time.Second

// Pipeline delivers result messages to Reten. Create it with New.
type Pipeline struct {
	cfg Config
	log zerolog.Logger

	types       atomic.Pointer[map[string]schema.ResultType]
	typesMu     sync.Mutex
	typesLoaded time.Time

	// settledCounts is reten_relay_results_total's counter of each outcome label
	// (outcomeLabel), looked up once rather than per result.
	settledCounts map[string]prometheus.Counter
}

// New checks cfg, applies defaults and returns a pipeline; Run starts it.
func New(cfg Config) (*Pipeline, error) {
	cfg.defaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	p := &Pipeline{cfg: cfg, log: cfg.Logger}
	if cfg.Metrics != nil {
		p.settledCounts = map[string]prometheus.Counter{}
		for _, o := range []string{schema.OutcomeAccepted, schema.OutcomeAlreadyRecorded, schema.OutcomeDeadLettered} {
			p.settledCounts[outcomeLabel(o)] = cfg.Metrics.Results.WithLabelValues(outcomeLabel(o))
		}
	}
	if cfg.Health != nil {
		cfg.Health.Register(HealthComponent, "loading the tenant's result types")
	}
	return p, nil
}

// Run receives and settles messages until ctx is done, then stops receiving, lets
// in-flight submissions finish (for up to 10s) and gives every other message it holds back
// to the broker. It returns nil on a clean shutdown.
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
	newEngine(p, ctx, work).run()
	return nil
}

// newItem validates a message and finds its ordering key, before the engine's lock is taken.
func (p *Pipeline) newItem(m schema.Received) *item {
	it := &item{m: m, received: p.cfg.Now()}
	it.msg, it.rej = Validate(m.Body, *p.types.Load(), p.cfg.Now())
	switch {
	case it.rej == nil:
		it.key = keyOf(it.msg, m)
	case it.rej.Reason == schema.ReasonUnknownResultType:
		// The tenant may just have added the type: the worker re-reads the types first.
		it.key, it.revalidate, it.rej = orderingKey(m), true, nil
	case len(m.Body) > MaxMessageBytes:
		it.key = "k:" + m.Key // not worth parsing: it goes to the dead letters as it is
	default:
		it.key = orderingKey(m)
	}
	return it
}

// keyOf is the ordering key of a valid message: its activity.
func keyOf(msg *schema.ResultMessage, m schema.Received) string {
	switch {
	case msg.ActivityID != "":
		return "a:" + msg.ActivityID
	case msg.ProviderActivityID != "":
		return "p:" + msg.ProviderActivityID
	}
	return "k:" + m.Key
}

// orderingKey finds the activity of a message that failed validation, as far as it can.
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
