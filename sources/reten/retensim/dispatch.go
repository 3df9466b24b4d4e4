package retensim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"time"
)

// DispatchConfig is a tenant's dispatch configuration (reten-api.md §6): Reten POSTs each
// new activity to {URL}/activities with the provider's key as x-api-key, and retries a
// failed push on its next run, up to MaxAttempts attempts in all, then gives up (FAILED).
type DispatchConfig struct {
	// URL is the provider's base URL; pushes go to URL + "/activities".
	URL string
	// APIKey is the provider credential sent as x-api-key.
	APIKey string
	// Every is the scheduler's period (Reten's cron runs every 30 s). Default: 30s.
	Every time.Duration
	// MaxAttempts is how often one activity is tried. Default: 3.
	MaxAttempts int
	// Timeout bounds one push. Default: 10s.
	Timeout time.Duration
}

// PushOutcome is what happened to one pushed activity.
type PushOutcome struct {
	// ID is the activity id.
	ID string
	// Attempts is how many POSTs were made; Status the last answer (0: no answer).
	Attempts, Status int
	// Dispatched is true once a 2xx came back; Failed once MaxAttempts were used up.
	Dispatched, Failed bool
}

// Dispatcher pushes the simulator's new activities to a provider endpoint. Create it with
// Sim.StartDispatch; Stop ends it.
type Dispatcher struct {
	sim    *Sim
	cfg    DispatchConfig
	client *http.Client
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	outcomes map[string]*PushOutcome
	order    []string
}

// StartDispatch starts pushing every activity created from now on (those listed already
// count as dispatched before, as on a tenant that just activated its configuration).
func (s *Sim) StartDispatch(cfg DispatchConfig) *Dispatcher {
	if cfg.Every <= 0 {
		cfg.Every = 30 * time.Second
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 3
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &Dispatcher{sim: s, cfg: cfg, client: &http.Client{Timeout: cfg.Timeout}, cancel: cancel,
		done: make(chan struct{}), outcomes: map[string]*PushOutcome{}}
	for _, t := range s.Tasks() {
		d.outcomes[t.ID] = &PushOutcome{ID: t.ID, Dispatched: true}
	}
	go d.run(ctx)
	return d
}

// Stop ends the scheduler and waits for a push in flight.
func (d *Dispatcher) Stop() {
	d.cancel()
	<-d.done
}

// Outcomes returns what happened to every activity pushed so far, in first-push order.
func (d *Dispatcher) Outcomes() []PushOutcome {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]PushOutcome, 0, len(d.order))
	for _, id := range d.order {
		out = append(out, *d.outcomes[id])
	}
	return out
}

func (d *Dispatcher) run(ctx context.Context) {
	defer close(d.done)
	t := time.NewTicker(d.cfg.Every)
	defer t.Stop()
	for {
		d.runOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// runOnce is one scheduler run: every activity not yet dispatched nor failed is pushed once.
func (d *Dispatcher) runOnce(ctx context.Context) {
	for _, t := range d.sim.Tasks() {
		if ctx.Err() != nil {
			return
		}
		d.mu.Lock()
		o := d.outcomes[t.ID]
		if o == nil {
			o = &PushOutcome{ID: t.ID}
			d.outcomes[t.ID] = o
			d.order = append(d.order, t.ID)
		}
		skip := o.Dispatched || o.Failed
		d.mu.Unlock()
		if skip {
			continue
		}
		body, _ := json.Marshal(t)
		status := d.push(ctx, body)
		d.mu.Lock()
		o.Attempts++
		o.Status = status
		o.Dispatched = status >= 200 && status < 300
		o.Failed = !o.Dispatched && o.Attempts >= d.cfg.MaxAttempts
		d.mu.Unlock()
	}
}

// push POSTs one activity and returns the status, 0 when no answer came.
func (d *Dispatcher) push(ctx context.Context, body []byte) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.cfg.URL+"/activities", bytes.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-api-key", d.cfg.APIKey)
	resp, err := d.client.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	return resp.StatusCode
}
