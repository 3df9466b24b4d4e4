// Package dispatch is Reten's push side: an HTTP endpoint that Reten's dispatch
// configuration POSTs ready activities to. Each pushed activity becomes a CloudEvent with op
// "dispatched", routed by the tasks routes and published to every matching sink; the
// receiver answers 2xx only after every broker confirmed, so Reten retries what was not kept.
package dispatch

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/reten/reten-relay/relay"
	"github.com/reten/reten-relay/schema"
)

// Config configures a Receiver. Zero values of the optional fields take the documented
// defaults.
type Config struct {
	// Source is the CloudEvents source of every event: the Reten base URL. Required.
	Source string
	// APIKey is what Reten must send as x-api-key. Required.
	APIKey string
	// MaxBody is the largest request body accepted, in bytes. Default: 1 MiB.
	MaxBody int64
	// MaxConcurrent bounds the requests handled at once; more wait up to Wait, then get
	// 503. Default: 64.
	MaxConcurrent int
	// Wait is how long a request waits for a free slot. Default: 5s.
	Wait time.Duration
	// PublishTimeout bounds how long one push waits for its brokers. Default: 10s.
	PublishTimeout time.Duration
	// Router returns the current router (it follows config reloads). Required.
	Router func() relay.Router
	// Sinks are the sinks routes may name. Required.
	Sinks map[string]relay.Sink
	// Logger receives one line per push that failed. Default: zerolog.Nop().
	Logger zerolog.Logger
	// Registerer, when not nil, gets reten_relay_dispatch_pushes_total.
	Registerer prometheus.Registerer
	// Now is the clock for event times. Default: time.Now.
	Now func() time.Time
}

// Defaults of Config.
const (
	DefaultMaxBody        = 1 << 20
	defaultMaxConcurrent  = 64
	defaultWait           = 5 * time.Second
	defaultPublishTimeout = 10 * time.Second
)

// ErrInvalidConfig is wrapped by New's errors.
var ErrInvalidConfig = errors.New("dispatch: invalid config")

// ErrSinkDown means a sink a push needs reports that its broker is not connected.
var ErrSinkDown = errors.New("sink not connected")

// connectedSink is a sink that knows whether its broker is reachable (natssink does).
type connectedSink interface{ Connected() bool }

// Receiver is the http.Handler of the push endpoint. Safe for concurrent use.
type Receiver struct {
	cfg    Config
	slots  chan struct{}
	pushes *prometheus.CounterVec
}

// New validates cfg and returns a Receiver.
func New(cfg Config) (*Receiver, error) {
	switch {
	case cfg.Source == "":
		return nil, fmt.Errorf("%w: Source is required", ErrInvalidConfig)
	case cfg.APIKey == "":
		return nil, fmt.Errorf("%w: APIKey is required", ErrInvalidConfig)
	case cfg.Router == nil:
		return nil, fmt.Errorf("%w: Router is required", ErrInvalidConfig)
	case len(cfg.Sinks) == 0:
		return nil, fmt.Errorf("%w: Sinks are required", ErrInvalidConfig)
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = defaultMaxConcurrent
	}
	if cfg.Wait <= 0 {
		cfg.Wait = defaultWait
	}
	if cfg.PublishTimeout <= 0 {
		cfg.PublishTimeout = defaultPublishTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &Receiver{cfg: cfg, slots: make(chan struct{}, cfg.MaxConcurrent)}
	r.pushes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "reten_relay_dispatch_pushes_total",
		Help: "Pushes received from Reten's dispatch, by HTTP status answered.",
	}, []string{"code"})
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(r.pushes); err != nil {
			return nil, fmt.Errorf("dispatch: register metrics: %w", err)
		}
	}
	return r, nil
}

// ServeHTTP answers one push; see the package doc for the answers.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	code, body := r.serve(req)
	r.pushes.WithLabelValues(fmt.Sprint(code)).Inc()
	w.Header().Set("Content-Type", "application/json")
	switch code {
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", http.MethodPost)
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "5")
	}
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

func (r *Receiver) serve(req *http.Request) (int, []byte) {
	if req.Method != http.MethodPost {
		return http.StatusMethodNotAllowed, problem("only POST is accepted")
	}
	// Constant-time: the answer's timing must not tell how much of a guess was right.
	got := req.Header.Get("x-api-key")
	if subtle.ConstantTimeCompare([]byte(got), []byte(r.cfg.APIKey)) != 1 {
		return http.StatusUnauthorized, problem("missing or wrong x-api-key")
	}
	ctx := req.Context()
	wait := time.NewTimer(r.cfg.Wait)
	defer wait.Stop()
	select {
	case r.slots <- struct{}{}:
		defer func() { <-r.slots }()
	case <-wait.C:
		return http.StatusServiceUnavailable, problem("too many pushes at once")
	case <-ctx.Done():
		return http.StatusServiceUnavailable, problem("request cancelled")
	}
	body, err := readBody(req, r.cfg.MaxBody)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return http.StatusRequestEntityTooLarge, problem(fmt.Sprintf("body larger than %d bytes", r.cfg.MaxBody))
		}
		return http.StatusBadRequest, problem("read body: " + err.Error())
	}
	acts, isArray, err := parseActivities(body)
	if err != nil {
		return http.StatusBadRequest, problem(err.Error())
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.PublishTimeout)
	defer cancel()
	if err := r.publish(ctx, acts); err != nil {
		r.cfg.Logger.Warn().Err(err).Int("activities", len(acts)).Msg("push not kept: answering 503 so Reten retries")
		return http.StatusServiceUnavailable, problem("a broker did not confirm; retry later")
	}
	return http.StatusOK, answer(acts, isArray)
}

// publish routes every activity's event and publishes them per sink, in push order.
func (r *Receiver) publish(ctx context.Context, acts []activity) error {
	router := r.cfg.Router()
	at := r.cfg.Now().UTC().Truncate(time.Millisecond)
	perSink := map[string][]schema.Message{}
	var order []string
	for _, a := range acts {
		ev := schema.NewEvent(r.cfg.Source, eventID(r.cfg.Source, a.id, a.raw), a.id, schema.OpDispatched, at, a.raw, nil, nil)
		body, err := schema.EncodeEvent(ev)
		if err != nil {
			return err
		}
		for _, t := range router.Route(ev) {
			if _, ok := r.cfg.Sinks[t.Sink]; !ok {
				return fmt.Errorf("route %q names sink %q, which is not configured", t.Route, t.Sink)
			}
			if _, seen := perSink[t.Sink]; !seen {
				order = append(order, t.Sink)
			}
			perSink[t.Sink] = append(perSink[t.Sink], schema.EventMessage(ev, body, t.Route, t.Destination, t.Key))
		}
	}
	for _, name := range order {
		// A broker known to be down answers at once: Reten retries later, and a push does
		// not wait out the publish timeout (Reten's own timeout may be shorter).
		if c, ok := r.cfg.Sinks[name].(connectedSink); ok && !c.Connected() {
			return fmt.Errorf("%w: %s", ErrSinkDown, name)
		}
	}
	for _, name := range order {
		if err := r.cfg.Sinks[name].Publish(ctx, perSink[name]); err != nil {
			return fmt.Errorf("publish %d pushed events to %s: %w", len(perSink[name]), name, err)
		}
	}
	return nil
}

// eventID is a hash of (source, activity id, payload): Reten's retries of one push carry
// the same id, so brokers that deduplicate drop the copies.
func eventID(source, id string, payload []byte) string {
	h := sha256.New()
	for _, s := range [][]byte{[]byte("dispatched"), []byte(source), []byte(id), payload} {
		var l [8]byte
		binary.BigEndian.PutUint64(l[:], uint64(len(s)))
		h.Write(l[:])
		h.Write(s)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
