package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/reten/reten-relay/relay"
	"github.com/reten/reten-relay/relay/config"
	"github.com/reten/reten-relay/relay/ops"
	"github.com/reten/reten-relay/relay/results"
	"github.com/reten/reten-relay/relay/state"
	"github.com/reten/reten-relay/relay/tasks"
	"github.com/reten/reten-relay/sinks/kafkasink"
	"github.com/reten/reten-relay/sinks/natssink"
	"github.com/reten/reten-relay/sources/reten"
	"github.com/reten/reten-relay/sources/reten/retensim"
)

// app is one wired relay: every concrete component the config asks for. build creates it,
// Run runs it until ctx is done and then takes it apart in reverse order.
type app struct {
	cfg     *config.Config
	sec     *security
	opts    appOptions
	log     zerolog.Logger
	health  *ops.Health
	metrics *ops.Metrics

	natsURL  string
	retenURL string
	sim      *retensim.Sim
	client   *reten.Client
	nats     *natssink.Sink
	kafka    *kafkasink.Sink
	sinks    map[string]relay.Sink
	poller   *tasks.Poller // with a nats-kv state: the current term's, nil on a follower
	replicas *replicaState // with a nats-kv state: the lease and what each term needs
	taskCfg  tasks.Config  // with a file state: the poller's config (benchmarks make more)
	results  runner

	listener net.Listener
	httpErrs chan error // a failed HTTP server, for Run
	closers  []namedCloser

	router      *routerHolder // the tasks routes, for the dispatch receiver
	dispatchLn  net.Listener
	dispatchSrv *http.Server
}

// runner is a pipeline: Run blocks until ctx is done.
type runner interface {
	Run(ctx context.Context) error
}

type namedCloser struct {
	name  string
	close func(ctx context.Context) error
}

// appOptions are what demo and tests change on top of the config.
type appOptions struct {
	// simOptions seed the in-process simulator when reten.url is "simulator".
	simOptions []retensim.Option
	// simChurn, when set, changes a few simulator tasks this often.
	simChurn time.Duration
	// simTasks are added to the simulator before the pipelines start: those a previous
	// run saved at simStatePath, where this run saves them as they change.
	simTasks     []retensim.Task
	simStatePath string
	// taskHooks are crash-test seams of the poller.
	taskHooks tasks.Hooks
	// taskChunk is tasks.Config.ChunkSize (0: its default); tests make it small.
	taskChunk int
	// onCycle is told about every poll cycle (the demo prints them).
	onCycle func(tasks.CycleReport, error)
	// onSettled is told about every settled result message (the demo prints them).
	onSettled func(results.Settled)
	// kafkaWatch is how often /readyz asks the Kafka brokers (tests shorten it). Default: 5s.
	kafkaWatch time.Duration
}

func (a *app) onClose(name string, f func(ctx context.Context) error) {
	a.closers = append(a.closers, namedCloser{name, f})
}

// build wires every component the config enables. On error, what was built is closed.
func build(ctx context.Context, cfg *config.Config, log zerolog.Logger, opts appOptions) (_ *app, err error) {
	a := &app{cfg: cfg, log: log, health: ops.NewHealth(), metrics: ops.NewMetrics(), sinks: map[string]relay.Sink{}}
	defer func() {
		if err != nil {
			_ = a.close(context.Background())
		}
	}()
	// The listener first: a port in use should fail before anything else starts.
	if a.listener, err = net.Listen("tcp", cfg.HTTP.Listen); err != nil {
		return nil, fmt.Errorf("http.listen: %w", err)
	}
	a.onClose("http listener", func(context.Context) error { return a.listener.Close() })
	a.opts = opts
	if a.sec, err = newSecurity(cfg); err != nil {
		return nil, err
	}
	// Serve /healthz and /readyz from the start: while the brokers are awaited, /healthz is
	// green and /readyz red with the reason.
	a.serveHTTP()
	if err := a.buildReten(cfg, opts); err != nil {
		return nil, err
	}
	if err := a.buildNATS(ctx, cfg); err != nil {
		return nil, err
	}
	if err := a.buildKafka(ctx, cfg); err != nil {
		return nil, err
	}
	if cfg.Tasks != nil {
		if err := a.buildTasks(ctx, cfg, opts); err != nil {
			return nil, err
		}
	}
	if cfg.Results != nil {
		if err := a.buildResults(ctx, cfg, opts); err != nil {
			return nil, err
		}
	}
	if cfg.Dispatch != nil {
		if err := a.buildDispatch(cfg); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// buildReten starts the in-process simulator when asked to, and the Reten client.
func (a *app) buildReten(cfg *config.Config, opts appOptions) error {
	a.retenURL = cfg.Reten.BaseURL()
	key := cfg.Reten.APIKey.Reveal()
	if cfg.Reten.IsSimulator() {
		sim, err := retensim.Start("127.0.0.1:0", opts.simOptions...)
		if err != nil {
			return fmt.Errorf("start reten simulator: %w", err)
		}
		a.sim = sim
		a.onClose("reten simulator", func(context.Context) error { sim.Close(); return nil })
		a.retenURL, key = sim.URL(), sim.APIKey()
		a.log.Info().Str("url", a.retenURL).Msg("reten: using the in-process simulator")
	}
	maxConns := 8
	if cfg.Tasks != nil {
		maxConns = max(maxConns, cfg.Tasks.Concurrency*2)
	}
	if cfg.Results != nil {
		maxConns = max(maxConns, cfg.Results.Concurrency*2)
	}
	ua := userAgent()
	if cfg.Tasks != nil && cfg.Tasks.StateBucket() != "" {
		ua += " replica/" + replicaName(cfg.Tasks) // which of several relays asked
	}
	client, err := reten.New(reten.Config{
		BaseURL:   a.retenURL,
		APIKey:    reten.NewAPIKey(key),
		Timeout:   cfg.Reten.Timeout,
		MaxConns:  maxConns,
		UserAgent: ua,
		TLS:       a.sec.retenTLS,
	})
	if err != nil {
		return fmt.Errorf("reten client: %w", err)
	}
	a.client = client
	return nil
}

// buildKafka connects the Kafka sink when brokers are configured and makes sure the static
// topics exist (creating them only when kafka.create_topics allows it).
func (a *app) buildKafka(ctx context.Context, cfg *config.Config) error {
	if !cfg.Kafka.Configured() {
		return nil
	}
	sink, err := kafkasink.New(ctx, kafkasink.Config{
		Brokers: cfg.Kafka.Brokers, ClientID: cfg.Kafka.ClientID, CreateTopics: cfg.Kafka.CreateTopics,
		Partitions: cfg.Kafka.TopicPartitions, ReplicationFactor: cfg.Kafka.ReplicationFactor,
		TLS: a.sec.kafkaTLS, SASL: a.sec.kafkaSASL,
	}, kafkasink.WithLogger(a.log.With().Str("component", "kafka").Logger()))
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	a.kafka = sink
	a.sinks[config.SinkKafka] = sink
	a.onClose("kafka sink", sink.Close)
	a.health.Register("kafka", "connecting")
	if err := a.checkKafkaSecurity(ctx); err != nil {
		return err
	}
	var topics []string
	if cfg.Tasks != nil {
		for _, r := range cfg.Tasks.Routes {
			if r.Sink == config.SinkKafka && !strings.Contains(r.Topic, "{") {
				topics = append(topics, r.Topic)
			}
		}
	}
	if cfg.Results != nil && cfg.Results.Source == config.SinkKafka {
		topics = append(topics, cfg.Results.DeadLetter)
		if cfg.Results.Outcomes != "" {
			topics = append(topics, cfg.Results.Outcomes)
		}
	}
	if len(topics) > 0 {
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := sink.EnsureTopics(tctx, topics); err != nil {
			return fmt.Errorf("kafka: %w", err)
		}
	}
	return nil
}

// buildTasks opens the state store and wires the poller: at once with a file state, for
// every term of the lease with a nats-kv state.
func (a *app) buildTasks(ctx context.Context, cfg *config.Config, opts appOptions) error {
	tc := cfg.Tasks
	router, err := tc.NewRouter()
	if err != nil {
		return fmt.Errorf("tasks.routes: %w", err)
	}
	a.router = &routerHolder{}
	a.router.set(router)
	if tc.PollingOff() {
		a.log.Info().Msg("tasks: interval off: no polling, the routes serve pushed activities")
		return nil
	}
	pcfg := tasks.Config{
		Source:       a.eventSource(),
		Interval:     tc.Interval,
		List:         schemaListOptions(tc),
		EmitInitial:  tc.EmitInitial,
		TombstoneTTL: tc.TombstoneTTL,
		DeleteGuard:  tasks.DeleteGuard{MaxShare: tc.DeleteGuard.MaxShare, MinSnapshot: tc.DeleteGuard.MinSnapshot, ConfirmCycles: tc.DeleteGuard.ConfirmCycles},
		Lister:       a.client,
		Router:       router,
		Sinks:        taskSinks(a.sinks),
		Logger:       a.log, // the poller names itself (component "tasks.poller")
		Metrics:      a.metrics,
		Health:       a.health,
		Hooks:        opts.taskHooks,
		ChunkSize:    opts.taskChunk,
		OnCycle:      opts.onCycle,
	}
	if tc.StateBucket() != "" {
		return a.buildReplicas(ctx, cfg, pcfg)
	}
	st, err := state.Open(tc.State)
	if err != nil {
		return fmt.Errorf("tasks.state %s: %w", tc.State, err)
	}
	a.onClose("state store", func(context.Context) error { return st.Close() })
	pcfg.Store = st
	a.taskCfg = pcfg
	if a.poller, err = tasks.New(pcfg); err != nil {
		return fmt.Errorf("tasks: %w", err)
	}
	return nil
}

// eventSource is the CloudEvents source of task events: the Reten base URL as configured
// (the simulator's stable name rather than its random port, so ids survive restarts).
func (a *app) eventSource() string {
	if a.cfg.Reten.IsSimulator() {
		return "reten-simulator"
	}
	return a.retenURL
}

// Run serves HTTP and runs the pipelines until ctx is done, then shuts everything down.
func (a *app) Run(ctx context.Context) error {
	// A pipeline that fails stops the others too: the process exits and is restarted.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	goRun := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && !errors.Is(err, context.Canceled) {
				errs <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	go func() {
		select {
		case err := <-a.httpErrs:
			errs <- err
		case <-ctx.Done():
		}
	}()
	goRun("nats health", a.watchNATS)
	goRun("kafka health", a.watchKafka)
	switch {
	case a.replicas != nil:
		goRun("tasks", a.runReplica)
	case a.poller != nil:
		goRun("tasks", a.poller.Run)
	}
	if a.results != nil {
		goRun("results", a.results.Run)
	}
	goRun("dispatch", a.serveDispatch)
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errs:
		cancel()
	}
	a.log.Info().Msg("shutting down: draining in-flight work")
	wg.Wait()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return errors.Join(runErr, a.close(shutdownCtx))
}

// serveHTTP serves the operations endpoints on the listener until the app is closed.
func (a *app) serveHTTP() {
	srv := &http.Server{Handler: ops.Handler(a.health, a.metrics), ReadHeaderTimeout: 5 * time.Second}
	a.httpErrs = make(chan error, 1)
	a.log.Info().Str("listen", a.listener.Addr().String()).Msg("http: serving /healthz /readyz /metrics")
	go func() {
		if err := srv.Serve(a.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.httpErrs <- fmt.Errorf("http: %w", err)
		}
	}()
	a.onClose("http server", srv.Shutdown)
}

// watchNATS keeps the "nats" health component in step with the connection.
func (a *app) watchNATS(ctx context.Context) error {
	if a.nats == nil {
		return nil
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if a.nats.Connected() {
			if a.health.Set("nats", true, "") {
				a.log.Info().Msg("nats: connected")
			}
		} else if a.health.Set("nats", false, natsDownReason(a.natsURL, a.cfg.NATS.NATSAuth(), a.nats.Conn())) {
			a.log.Warn().Msg("nats: connection lost, reconnecting")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// watchKafka keeps the "kafka" health component in step with the brokers: kafka-go has
// no connection state to watch, so it asks a broker for the cluster's brokers now and then.
func (a *app) watchKafka(ctx context.Context) error {
	if a.kafka == nil {
		return nil
	}
	t := time.NewTicker(cmp.Or(a.opts.kafkaWatch, 5*time.Second))
	defer t.Stop()
	for {
		err := a.sec.pingKafka(ctx, a.cfg.Kafka.Brokers)
		if err == nil {
			if a.health.Set("kafka", true, "") {
				a.log.Info().Msg("kafka: brokers reachable")
			}
		} else if a.health.Set("kafka", false, "no broker reachable: "+err.Error()) {
			a.log.Warn().Err(err).Msg("kafka: no broker reachable")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// close releases everything in reverse order of creation.
func (a *app) close(ctx context.Context) error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		c := a.closers[i]
		if err := c.close(ctx); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("close %s: %w", c.name, err))
		}
	}
	a.closers = nil
	return errors.Join(errs...)
}
