package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/reten/reten-relay/relay/config"
	"github.com/reten/reten-relay/relay/results"
	"github.com/reten/reten-relay/relay/tasks"
	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/sources/reten/retensim"
)

// demoResultSubject is where the demo's sample worker puts its results.
const demoResultSubject = "reten.results.demo"

// demoDispatchKey is the provider credential the simulator's dispatch configuration sends.
const demoDispatchKey = "demo-dispatch-key"

// cmdDemo is the zero-setup tour: embedded NATS with JetStream, the simulator with tasks
// that keep changing, both pipelines with the shipped routing, and a sample worker that
// answers tasks with results (some deliberately invalid, so dead letters show up).
func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("demo")
	duration := fs.Duration("duration", 30*time.Second, "stop after this long (0: run until Ctrl-C)")
	nTasks := fs.Int("tasks", 300, "tasks in the simulator")
	interval := fs.Duration("interval", 2*time.Second, "poll interval")
	cfgPath := fs.String("config", "config.yaml", "take the task routes from this config, if it exists")
	verbose := fs.Bool("v", false, "also print the relay's own logs")
	if code, ok := parseNoArgs(fs, args, stdout, stderr); !ok {
		return code
	}
	dir, err := os.MkdirTemp("", "reten-relay-demo-")
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return exitFailure
	}
	defer os.RemoveAll(dir)

	cfg, err := demoConfig(dir, *cfgPath, *interval)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	p := &demoPrinter{w: stdout, start: time.Now()}
	logOut, level := stderr, "error"
	if *verbose {
		logOut, level = stdout, "info"
	}
	log, _ := newLogger(logOut, level, "console")
	a, err := build(ctx, cfg, log, appOptions{
		simOptions: []retensim.Option{retensim.WithTasks(*nTasks), retensim.WithSeed(42)},
		onCycle:    p.cycle,
		onSettled:  p.settled,
	})
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return exitFailure
	}
	p.printf("reten-relay demo: Reten simulator at %s with %d tasks, embedded NATS at %s\n", a.retenURL, *nTasks, a.natsURL)
	p.printf("  task events → %s   results ← %s   dead letters → %s\n", taskSubjects(cfg), cfg.Results.Subject, cfg.Results.DeadLetter)
	p.printf("  subscribe yourself: nats sub '>' -s %s   (Ctrl-C stops the demo)\n\n", a.natsURL)

	nc, err := nats.Connect(a.natsURL, nats.Name("reten-relay-demo-worker"))
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return exitFailure
	}
	defer nc.Close()
	w := &demoWorker{nc: nc, p: p}
	for _, subject := range taskSubjects(cfg) {
		if _, err := nc.Subscribe(subject, w.onEvent); err != nil {
			fmt.Fprintf(stderr, "demo: %v\n", err)
			return exitFailure
		}
	}
	a.sim.StartChurn(ctx, time.Second, 4)
	// Reten pushes every new activity to the relay's dispatch receiver, so it shows up as a
	// "dispatched" event before the next poll reports it as "created".
	pusher := a.sim.StartDispatch(retensim.DispatchConfig{URL: "http://" + a.dispatchLn.Addr().String(), APIKey: demoDispatchKey, Every: 250 * time.Millisecond})
	defer pusher.Stop()

	if err := a.Run(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return exitFailure
	}
	p.summary()
	return exitOK
}

// demoConfig is the shipped config's routing with everything else set for the demo: the
// simulator, an embedded NATS on a free port, state in dir, a short interval.
func demoConfig(dir, path string, interval time.Duration) (*config.Config, error) {
	cfg := config.DefaultConfig()
	if _, err := os.Stat(path); err == nil {
		loaded, err := config.LoadFile(path, func(string) (string, bool) { return "", false })
		if err != nil {
			return nil, err
		}
		cfg = loaded
	}
	if cfg.Tasks == nil || len(cfg.Tasks.Routes) == 0 {
		cfg.Tasks = config.DefaultTasks()
		cfg.Tasks.Routes = []config.RouteConfig{{Name: "all-tasks", Sink: config.SinkNATS, Subject: "reten.tasks.{op}.{channel}"}}
	}
	if cfg.Results == nil {
		cfg.Results = config.DefaultResults()
	}
	// Only NATS in the demo: drop Kafka routes.
	routes := cfg.Tasks.Routes[:0]
	for _, r := range cfg.Tasks.Routes {
		if r.Sink == config.SinkNATS {
			routes = append(routes, r)
		}
	}
	cfg.Tasks.Routes = routes
	cfg.Reten.URL = config.RetenSimulator
	cfg.NATS.URL, cfg.NATS.StoreDir, cfg.NATS.EmbeddedPort = config.NATSEmbedded, filepath.Join(dir, "nats"), -1
	cfg.Kafka.Brokers = nil
	cfg.Tasks.State, cfg.Tasks.Interval = filepath.Join(dir, "tasks.db"), interval
	cfg.Results.Source, cfg.Results.Subject = config.SinkNATS, "reten.results.>"
	if cfg.Results.DeadLetter == "" {
		cfg.Results.DeadLetter = "reten.dlq.results"
	}
	cfg.Results.Backoff.Initial, cfg.Results.Backoff.Max = 100*time.Millisecond, 2*time.Second
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Dispatch = config.DefaultDispatch()
	cfg.Dispatch.Listen, cfg.Dispatch.APIKey = "127.0.0.1:0", config.NewSecret(demoDispatchKey)
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("demo config: %w", err)
	}
	return cfg, nil
}

// demoWorker stands for a team's service: it reads task events and answers some pending
// tasks with a result, one in five deliberately broken.
type demoWorker struct {
	nc       *nats.Conn
	p        *demoPrinter
	seen     atomic.Int64
	answered atomic.Int64
}

func (w *demoWorker) onEvent(m *nats.Msg) {
	var ev schema.Event
	if json.Unmarshal(m.Data, &ev) != nil {
		return
	}
	w.p.event(m.Subject, ev)
	if ev.Data.Op == schema.OpDeleted || ev.Data.Op == schema.OpDispatched || w.seen.Add(1)%5 != 0 {
		return
	}
	var task struct {
		ID                 string `json:"id"`
		Status             string `json:"status"`
		CommerceExternalID string `json:"commerceExternalId"`
	}
	if json.Unmarshal(ev.Data.Task, &task) != nil || task.Status != "PENDING" {
		return
	}
	n := w.answered.Add(1)
	msg := map[string]any{
		"activity_id":          task.ID,
		"commerce_external_id": task.CommerceExternalID,
		"occurred_at":          time.Now().UTC().Format(time.RFC3339),
		"status":               schema.ResultEffective,
		"task_result":          map[string]any{"result": "SALE_COMPLETED", "comment": "demo worker", "contact_type": "OUTBOUND"},
	}
	switch n % 10 {
	case 5: // a result type the tenant does not have
		msg["task_result"] = map[string]any{"result": "TELEPORTED"}
	case 0: // a required field missing
		delete(msg, "occurred_at")
	}
	body, _ := json.Marshal(msg)
	_ = w.nc.Publish(demoResultSubject, body)
}

// demoPrinter prints what happens for humans, one line per thing, and counts.
type demoPrinter struct {
	w     io.Writer
	start time.Time
	mu    sync.Mutex

	firstEvent                           time.Duration
	events, accepted, already, dead, cyc int
	quietEvents                          int
	sinceCycle                           int // events since the last poll line
	pushes                               int
	pushedAt                             map[string]time.Time // activity id → when its push arrived
}

func (p *demoPrinter) printf(format string, a ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format, a...)
}

func (p *demoPrinter) stamp() string {
	return fmt.Sprintf("%6.1fs", time.Since(p.start).Seconds())
}

func (p *demoPrinter) cycle(r tasks.CycleReport, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cyc++
	p.sinceCycle = 0
	if p.quietEvents > 0 {
		fmt.Fprintf(p.w, "%s   … and %d more events\n", p.stamp(), p.quietEvents)
		p.quietEvents = 0
	}
	if err != nil {
		fmt.Fprintf(p.w, "%s poll: %v (retrying)\n", p.stamp(), err)
		return
	}
	fmt.Fprintf(p.w, "%s poll: %d pages, %d tasks: %d created, %d updated, %d deleted (%d suspected) in %s\n",
		p.stamp(), r.Pages, r.Tasks, r.Created, r.Updated, r.Deleted, r.Suspected, r.Duration.Round(time.Millisecond))
}

// event prints an event; a burst (the first sync) shows its first few lines only.
func (p *demoPrinter) event(subject string, ev schema.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events++
	if p.events == 1 {
		p.firstEvent = time.Since(p.start)
	}
	// A burst (the first sync publishes every task) shows its first lines only; the
	// next poll line says how many more there were.
	p.sinceCycle++
	if p.sinceCycle > 6 && ev.Data.Op != schema.OpDispatched {
		p.quietEvents++
		return
	}
	changed := ""
	if len(ev.Data.Changed) > 0 {
		changed = fmt.Sprintf(" changed %v", ev.Data.Changed)
	}
	switch ev.Data.Op {
	case schema.OpDispatched:
		p.pushes++
		if p.pushedAt == nil {
			p.pushedAt = map[string]time.Time{}
		}
		p.pushedAt[ev.Subject] = time.Now()
		changed = " (pushed by Reten)"
	case schema.OpCreated:
		if at, ok := p.pushedAt[ev.Subject]; ok {
			changed = fmt.Sprintf(" (the push arrived %s earlier)", time.Since(at).Round(time.Millisecond))
			delete(p.pushedAt, ev.Subject)
		}
	}
	fmt.Fprintf(p.w, "%s event %-8s %s → %s%s\n", p.stamp(), ev.Data.Op, short(ev.Subject), subject, changed)
}

func (p *demoPrinter) settled(s results.Settled) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch s.Outcome {
	case schema.OutcomeAccepted:
		p.accepted++
		fmt.Fprintf(p.w, "%s result  accepted by Reten (%d) for task %s\n", p.stamp(), s.HTTPStatus, short(s.TaskID))
	case schema.OutcomeAlreadyRecorded:
		p.already++
		fmt.Fprintf(p.w, "%s result  already recorded (409) for task %s\n", p.stamp(), short(s.TaskID))
	case schema.OutcomeDeadLettered:
		p.dead++
		fmt.Fprintf(p.w, "%s dead letter (%s): %s\n", p.stamp(), s.Reason, s.Err)
	}
}

func (p *demoPrinter) summary() {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "\ndemo done after %s: %d poll cycles, %d task events (first after %s, %d pushed by Reten), %d results accepted, %d already recorded, %d dead letters\n",
		time.Since(p.start).Round(100*time.Millisecond), p.cyc, p.events, p.firstEvent.Round(time.Millisecond), p.pushes, p.accepted, p.already, p.dead)
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
