// Package retensim is an in-process Reten simulator over a real socket, faithful to the
// integration API as reten-api.md describes it: the three integration endpoints with their
// permissions, status codes, NestJS error bodies and offset pagination, API keys with
// permissions, expiry and revocation, tenants, and GET /api/api-keys. Tests change its tasks,
// keys and faults (Script, FailPage, SetFailureRate) and can make the list hostile
// (SetHostile: lying meta, endless pages, ignoring page, redirects, huge bodies). Pages cost
// O(page) at any size (an ordered index per tenant), so 100,000 tasks under churn serve
// quickly. `reten-relay sim` serves it for local development.
//
//	sim := retensim.New(t, retensim.WithTasks(100))
//	client, _ := reten.New(reten.Config{BaseURL: sim.URL(), APIKey: reten.NewAPIKey(sim.APIKey())})
package retensim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reten/reten-relay/schema"
)

// DefaultTenant is the tenant of the default key and of tasks added without one.
const DefaultTenant = "tenant-demo"

// Sim is a running simulator. All methods are safe for concurrent use.
type Sim struct {
	srv *http.Server
	ln  net.Listener
	url string

	mu           sync.Mutex
	rnd          *rand.Rand
	seq          int64
	all          taskList             // every task in list order (creation order)
	tenants      map[string]*taskList // each tenant's tasks in list order
	byID         map[string]*Task
	keys         map[string]*apiKey
	jwts         map[string]*apiKey
	resultTypes  []schema.ResultType
	results      []RecordedResult
	resultByTask map[string]int
	defaultKey   string
	standalone   bool
	latency      time.Duration
	faults       map[Endpoint][]Fault
	rates        map[Endpoint]rateFault
	failPages    map[int]int
	onPage       func(page int)
	onRequest    func(Endpoint, *http.Request)
	hostile      Hostile
	now          func() time.Time

	requests  sync.Map // Endpoint → *atomic.Int64
	responses sync.Map // "endpoint status" → *atomic.Int64
}

// Option configures a simulator.
type Option func(*settings)

type settings struct {
	tasks      int
	seed       *int64
	standalone bool
	latency    time.Duration
}

// WithTasks seeds n random tasks of the default tenant.
func WithTasks(n int) Option { return func(c *settings) { c.tasks = n } }

// WithSeed makes the simulator's random choices (ids, seeded tasks, churn) repeatable.
func WithSeed(seed int64) Option { return func(c *settings) { c.seed = &seed } }

// WithStandaloneResults makes a result for an unknown activity a STANDALONE result (201)
// instead of 404 — the docs leave open which Reten does.
func WithStandaloneResults(on bool) Option { return func(c *settings) { c.standalone = on } }

// WithLatency delays every answer by d.
func WithLatency(d time.Duration) Option { return func(c *settings) { c.latency = d } }

func newSim(opts []Option) *Sim {
	var c settings
	for _, o := range opts {
		o(&c)
	}
	rnd := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	if c.seed != nil {
		rnd = rand.New(rand.NewPCG(uint64(*c.seed), uint64(*c.seed)^0x9e3779b97f4a7c15))
	}
	s := &Sim{
		rnd:          rnd,
		byID:         map[string]*Task{},
		tenants:      map[string]*taskList{},
		keys:         map[string]*apiKey{},
		jwts:         map[string]*apiKey{},
		resultByTask: map[string]int{},
		faults:       map[Endpoint][]Fault{},
		rates:        map[Endpoint]rateFault{},
		failPages:    map[int]int{},
		now:          time.Now,
		standalone:   c.standalone,
		latency:      c.latency,
		resultTypes: []schema.ResultType{
			{Code: "SALE_COMPLETED", Label: "Venta completada"},
			{Code: "NOT_INTERESTED", Label: "No interesado"},
			{Code: "RESCHEDULE", Label: "Reprogramar visita", RequiresFutureScheduledAt: true},
			{Code: "NO_CONTACT", Label: "Sin contacto"},
		},
	}
	s.defaultKey = "rtn_sk_sim" + s.randHex(24)
	s.keys[s.defaultKey] = &apiKey{key: s.defaultKey, tenant: DefaultTenant, perms: permSet(PermViewActivities, PermSubmitActivityResult), created: s.now()}
	s.addTasksLocked(DefaultTenant, c.tasks)
	return s
}

// New starts a simulator on a loopback port and stops it when the test ends.
func New(t testing.TB, opts ...Option) *Sim {
	t.Helper()
	s, err := Start("127.0.0.1:0", opts...)
	if err != nil {
		t.Fatalf("start reten simulator: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Start starts a simulator listening on addr.
func Start(addr string, opts ...Option) (*Sim, error) {
	s := newSim(opts)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("reten simulator: %w", err)
	}
	s.ln = ln
	s.url = "http://" + ln.Addr().String()
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err // the listener was closed under us; nothing to report to
		}
	}()
	return s, nil
}

// URL is the base URL (paths start with /api/...).
func (s *Sim) URL() string { return s.url }

// APIKey is the default key: default tenant, VIEW_ACTIVITIES and SUBMIT_ACTIVITY_RESULT.
func (s *Sim) APIKey() string { return s.defaultKey }

// Close stops the server, cutting open connections.
func (s *Sim) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
	_ = s.srv.Close()
}

func (s *Sim) randHex(n int) string {
	const hex = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = hex[s.rnd.IntN(16)]
	}
	return string(b)
}

func (s *Sim) counter(m *sync.Map, key any) *atomic.Int64 {
	v, _ := m.LoadOrStore(key, new(atomic.Int64))
	return v.(*atomic.Int64)
}

// Requests counts the requests an endpoint received, faults included.
func (s *Sim) Requests(ep Endpoint) int64 { return s.counter(&s.requests, ep).Load() }

// Responses counts the answers of an endpoint with a status (0: dropped connections).
func (s *Sim) Responses(ep Endpoint, status int) int64 {
	return s.counter(&s.responses, fmt.Sprintf("%s %d", ep, status)).Load()
}
