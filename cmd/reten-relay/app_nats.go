package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/reten/reten-relay/relay/config"
	"github.com/reten/reten-relay/relay/routing"
	"github.com/reten/reten-relay/sinks/embeddednats"
	"github.com/reten/reten-relay/sinks/natssink"
	"github.com/reten/reten-relay/sinks/natsstreams"
)

// taskStream is the stream the relay creates for task routes no stream captures.
const taskStream = config.TaskStream

// needsNATS reports whether anything in the config talks to NATS.
func needsNATS(cfg *config.Config) bool {
	sink, input := natsNeeds(cfg)
	return len(sink) > 0 || len(input) > 0 || stateInKV(cfg)
}

// stateInKV reports whether the tasks state lives in a JetStream KeyValue bucket.
func stateInKV(cfg *config.Config) bool {
	return cfg.Tasks != nil && cfg.Tasks.StateBucket() != "" && !cfg.Tasks.PollingOff()
}

// natsNeeds lists every subject the relay uses on NATS and what it needs there: the sink's
// (task routes, dead letters, outcomes) and the results input's. run ensures them, check
// reports them: one list, so both make the same decision.
func natsNeeds(cfg *config.Config) (sink, input []natsstreams.Need) {
	sink, input = resultNeeds(cfg)
	return append(routeNeeds(cfg), sink...), input
}

// routeNeeds are the needs of the NATS task routes.
func routeNeeds(cfg *config.Config) (sink []natsstreams.Need) {
	if cfg.Tasks != nil {
		core := cfg.NATS.Streams.UncapturedTasks == "core"
		for _, r := range cfg.Tasks.Routes {
			if r.Sink != config.SinkNATS {
				continue
			}
			t, err := routing.ParseTemplate(r.Subject)
			if err != nil {
				continue // a validated config never gets here
			}
			sink = append(sink, natsstreams.Need{Purpose: "route " + r.Name, Subject: t.StreamSubject(),
				Stream: taskStream, Kind: natsstreams.Events, Core: core})
		}
	}
	return sink
}

// resultNeeds are the needs of the NATS results pipeline: its outputs and its input.
func resultNeeds(cfg *config.Config) (sink, input []natsstreams.Need) {
	if rc := cfg.Results; rc != nil && rc.Source == config.SinkNATS {
		sink = append(sink, natsstreams.Need{Purpose: "results.dead_letter", Subject: rc.DeadLetter,
			Stream: config.DeadLetterStream, Kind: natsstreams.DeadLetters})
		if rc.Outcomes != "" {
			sink = append(sink, natsstreams.Need{Purpose: "results.outcomes", Subject: rc.Outcomes,
				Stream: config.OutcomeStream, Kind: natsstreams.Events})
		}
		input = append(input, natsstreams.Need{Purpose: "results.subject", Subject: rc.Subject,
			Stream: rc.Stream, Kind: natsstreams.Input})
	}
	return sink, input
}

// taskSubjects are the stream subjects of the NATS task routes (the demo subscribes to them).
func taskSubjects(cfg *config.Config) []string {
	sink, _ := natsNeeds(cfg)
	var out []string
	for _, n := range sink {
		if n.Stream == taskStream {
			out = append(out, n.Subject)
		}
	}
	return out
}

// streamLimits are the nats.streams settings for the streams the relay creates.
func streamLimits(cfg *config.Config) natsstreams.Limits {
	s := cfg.NATS.Streams
	return natsstreams.Limits{MaxAge: s.MaxAge, MaxBytes: int64(s.MaxBytes), Replicas: s.Replicas, Memory: s.Storage == "memory"}
}

// buildNATS starts the embedded server when asked to, waits for NATS (with backoff, the
// "nats" health component red meanwhile), ensures every stream the config needs in one
// step (all or nothing) and connects the NATS sink.
func (a *app) buildNATS(ctx context.Context, cfg *config.Config) error {
	sinkNeeds, inputNeeds := natsNeeds(cfg)
	if len(sinkNeeds)+len(inputNeeds) == 0 && !stateInKV(cfg) {
		return nil
	}
	a.health.Register("nats", "connecting")
	a.natsURL = cfg.NATS.URL
	if cfg.NATS.Embedded() {
		if err := a.startEmbeddedNATS(cfg); err != nil {
			return err
		}
	}
	sink, err := a.connectNATS(ctx, natssink.Config{URL: a.natsURL, Name: cfg.NATS.Name, Streams: sinkNeeds, Limits: streamLimits(cfg)})
	if err != nil {
		return err
	}
	a.nats = sink
	a.sinks[config.SinkNATS] = sink
	a.onClose("nats sink", sink.Close)
	return a.ensureStreams(ctx, append(sinkNeeds, inputNeeds...), streamLimits(cfg))
}

func (a *app) startEmbeddedNATS(cfg *config.Config) error {
	srv, err := embeddednats.Start(embeddednats.Options{
		Host: cfg.NATS.EmbeddedHost, Port: cfg.NATS.EmbeddedPort, StoreDir: cfg.NATS.StoreDir, SyncAlways: true,
	})
	if errors.Is(err, embeddednats.ErrPortInUse) {
		return fmt.Errorf("nats: the embedded server cannot listen on %s:%d, something already listens there (another relay, or a NATS server): "+
			"set NATS_EMBEDDED_PORT (nats.embedded_port) to a free port or -1 for any, or NATS_URL (nats.url) to use the server that is there: %w",
			cfg.NATS.EmbeddedHost, cfg.NATS.EmbeddedPort, err)
	}
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	a.onClose("embedded nats", func(context.Context) error { srv.Shutdown(); return nil })
	a.natsURL = srv.URL()
	a.log.Info().Str("url", a.natsURL).Str("store", cfg.NATS.StoreDir).Msg("nats: embedded server with JetStream started")
	return nil
}

// reloadStreams ensures the streams of reloaded routes before they are used; on error the
// reload is refused and the old routes stay.
func (a *app) reloadStreams(ctx context.Context, cfg *config.Config) error {
	if a.nats == nil {
		return nil
	}
	outputs, _ := resultNeeds(a.cfg) // results settings change only with a restart
	needs := append(routeNeeds(cfg), outputs...)
	js, err := jetstream.New(a.nats.Conn())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, _, err := natsstreams.Ensure(ctx, js, needs, streamLimits(a.cfg), a.log); err != nil {
		return fmt.Errorf("nats streams for the new routes: %w", err)
	}
	a.nats.SetStreams(needs)
	return nil
}

// startupBackoff is the wait before start-up attempt n (1-based): 500ms doubling to 30s.
func startupBackoff(n int) time.Duration {
	return min(500*time.Millisecond<<min(n-1, 6), 30*time.Second)
}

// connectNATS dials NATS until it answers, logging every failed attempt; only a bad
// config or ctx ends the wait.
func (a *app) connectNATS(ctx context.Context, ncfg natssink.Config) (*natssink.Sink, error) {
	log := a.log.With().Str("component", "nats").Logger()
	for attempt := 1; ; attempt++ {
		sink, err := natssink.New(ctx, ncfg, natssink.WithLogger(log), natssink.WithNATSOptions(a.sec.natsOpts...))
		if err == nil {
			return sink, nil
		}
		if errors.Is(err, natssink.ErrInvalidConfig) {
			return nil, fmt.Errorf("nats: %w", err)
		}
		explained := explainNATS(redactURL(ncfg.URL), a.cfg.NATS.NATSAuth(), err)
		if natsRefused(err) {
			return nil, explained // credentials or TLS: waiting will not help
		}
		if err := a.startupWait(ctx, "nats", attempt, fmt.Errorf("waiting for NATS: %w", explained)); err != nil {
			return nil, err
		}
	}
}

// natsRefused reports whether a connect error is the server refusing us (credentials,
// TLS) rather than not being there yet: the first ends start-up, the second is waited out.
func natsRefused(err error) bool {
	for _, refused := range []error{nats.ErrAuthorization, nats.ErrAuthExpired, nats.ErrAuthRevoked,
		nats.ErrAccountAuthExpired, nats.ErrSecureConnRequired, nats.ErrSecureConnWanted, nats.ErrTLS} {
		if errors.Is(err, refused) {
			return true
		}
	}
	return tlsHint(err, "nats.tls") != ""
}

// ensureStreams makes every stream decision at once, creating the missing streams (or
// none, when one cannot be made). A conflict with an existing stream ends start-up; a
// JetStream that is not answering yet is waited for.
func (a *app) ensureStreams(ctx context.Context, needs []natsstreams.Need, limits natsstreams.Limits) error {
	log := a.log.With().Str("component", "nats").Logger()
	js, err := jetstream.New(a.nats.Conn())
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		decisions, _, err := natsstreams.Ensure(actx, js, needs, limits, log)
		cancel()
		if err == nil {
			for _, d := range decisions {
				ev := log.Info()
				if d.Core {
					ev = log.Warn() // at-most-once: say it loudly
				}
				ev.Str("subject", d.Need.Subject).Str("stream", d.Stream).Msg(d.String())
			}
			return nil
		}
		if natsstreams.Permanent(err) {
			return fmt.Errorf("nats streams: %w", err)
		}
		if err := a.startupWait(ctx, "nats", attempt, fmt.Errorf("waiting for JetStream: %w", err)); err != nil {
			return err
		}
	}
}

// startupWait reports a failed start-up attempt (log and the component's readiness) and
// waits before the next one; it returns the failure when ctx ends first.
func (a *app) startupWait(ctx context.Context, component string, attempt int, err error) error {
	wait := startupBackoff(attempt)
	a.health.Set(component, false, err.Error())
	a.log.Warn().Err(err).Str("component", component).Int("attempt", attempt).Stringer("retry_in", wait).
		Msg(component + ": not available yet, retrying")
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("%w (gave up: %w)", err, ctx.Err())
	case <-t.C:
		return nil
	}
}
