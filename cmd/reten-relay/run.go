package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/reten/reten-relay/relay/config"
	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/sources/reten/retensim"
)

// cmdRun runs the pipelines the config enables until ctx is done.
func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env) int {
	fs := newFlags("run")
	path := fs.String("config", "config.yaml", "config file")
	if code, ok := parseNoArgs(fs, args, stdout, stderr); !ok {
		return code
	}
	cfg, code := loadConfig(*path, stderr, getenv)
	if cfg == nil {
		return code
	}
	log, err := newLogger(stdout, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		fmt.Fprintf(stderr, "%s: log: %v\n", *path, err)
		return exitUsage
	}
	for _, w := range cfg.Warnings() {
		log.Warn().Msg(w.Error())
	}
	serveProfiles(ctx, getenv, log)
	opts, err := runOptions(cfg)
	if err != nil {
		log.Error().Err(err).Msg("start-up failed")
		return exitFailure
	}
	floor := heapFloor(cfg, getenv)
	defer runtime.KeepAlive(floor)
	return runApp(ctx, cfg, *path, log, getenv, opts)
}

// heapFloorBytes is a floor under the garbage collector's heap goal (see heapFloor).
const heapFloorBytes = 8 << 20

// heapFloor returns memory that is allocated and never touched, for `run` to keep for as
// long as it runs the results pipeline: it counts as live heap, so the collector's goal
// (twice the live heap at the default GOGC) never falls below 2 × heapFloorBytes. The
// pipeline's own live heap is a few MB: it collected every ~2 MB of garbage (at 6,000
// results/s, twenty times a second), and a collection wakes idle threads, which at a low
// rate cost more than the collection itself (README, results performance). Pages never
// touched are never resident: RSS grows only by the garbage the higher goal lets build up
// (~13 MB). The tasks pipeline alone does not need it (its heap holds the task list, and a
// large listing has its own allowance). An operator's GOGC or GOMEMLIMIT turns it off:
// then they decide.
func heapFloor(cfg *config.Config, getenv env) []byte {
	if cfg.Results == nil {
		return nil
	}
	for _, name := range []string{"GOGC", "GOMEMLIMIT"} {
		if v, ok := getenv(name); ok && v != "" {
			return nil
		}
	}
	return make([]byte, heapFloorBytes)
}

// runOptions are what `run` adds to the config: with the in-process simulator, tasks that
// change, so a first `run` shows the relay at work, kept beside the state so that a restart
// sees the same tasks.
func runOptions(cfg *config.Config) (appOptions, error) {
	opts := appOptions{simOptions: []retensim.Option{retensim.WithTasks(200), retensim.WithSeed(1)}, simChurn: 5 * time.Second}
	if p := simStatePath(cfg); p != "" {
		saved, err := loadSimTasks(p)
		if err != nil {
			return opts, err
		}
		if saved != nil {
			opts.simOptions = []retensim.Option{retensim.WithTasks(0)}
			opts.simTasks = saved
		}
		opts.simStatePath = p
	}
	return opts, nil
}

// runApp builds and runs the relay, reloading routes on SIGHUP and on file change.
func runApp(ctx context.Context, cfg *config.Config, path string, log zerolog.Logger, getenv env, opts appOptions) int {
	a, err := build(ctx, cfg, log, opts)
	if err != nil && ctx.Err() != nil {
		// SIGINT/SIGTERM while waiting for a broker: a requested stop, not a failure.
		log.Info().Err(err).Msg("stopped during start-up")
		return exitOK
	}
	if err != nil {
		log.Error().Err(err).Msg("start-up failed")
		return exitFailure
	}
	if path != "" {
		go a.watchConfig(ctx, path, getenv)
	}
	if a.sim != nil {
		for _, t := range opts.simTasks {
			a.sim.AddTask(t)
		}
		if opts.simChurn > 0 {
			a.sim.StartChurn(ctx, opts.simChurn, 3)
		}
		if opts.simStatePath != "" {
			var mu sync.Mutex
			save := func() {
				mu.Lock()
				defer mu.Unlock()
				if err := saveSimTasks(opts.simStatePath, a.sim); err != nil {
					log.Warn().Err(err).Msg("simulator tasks not saved")
				}
			}
			save()
			defer save()
			go func() {
				t := time.NewTicker(max(opts.simChurn, time.Second))
				defer t.Stop()
				for {
					select {
					case <-ctx.Done():
						return
					case <-t.C:
						save()
					}
				}
			}()
		}
	}
	if err := a.Run(ctx); err != nil {
		log.Error().Err(err).Msg("stopped with an error")
		return exitFailure
	}
	log.Info().Msg("stopped")
	return exitOK
}

// loadConfig loads and validates a config file. A config error prints
// FILE:LINE: FIELD: what is wrong and nothing else, and returns exit code 2.
func loadConfig(path string, stderr io.Writer, getenv env) (*config.Config, int) {
	cfg, err := config.LoadFile(path, getenv)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return nil, exitUsage
	}
	return cfg, exitOK
}

// watchConfig reloads the routes on SIGHUP and when the file changes. A config that does
// not load is logged and the old one kept. Only the routes change at run time; other
// changes need a restart, which is logged.
func (a *app) watchConfig(ctx context.Context, path string, getenv env) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	modTime := fileModTime(path)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			a.reload(path, getenv, "SIGHUP")
		case <-t.C:
			if m := fileModTime(path); !m.Equal(modTime) {
				modTime = m
				a.reload(path, getenv, "file changed")
			}
		}
	}
}

func fileModTime(path string) time.Time {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}

// reload swaps the poller's routes for those of the file, atomically between cycles.
func (a *app) reload(path string, getenv env, why string) {
	log := a.log.With().Str("config", path).Str("trigger", why).Logger()
	cfg, err := config.LoadFile(path, getenv)
	if err != nil {
		var ce config.Errors
		if errors.As(err, &ce) {
			for _, e := range ce {
				log.Error().Msg("config reload refused: " + e.Error())
			}
		} else {
			log.Error().Err(err).Msg("config reload refused")
		}
		return
	}
	if a.router == nil || cfg.Tasks == nil {
		log.Warn().Msg("config reloaded: only tasks.routes change at run time; restart for other changes")
		return
	}
	router, err := cfg.Tasks.NewRouter()
	if err != nil {
		log.Error().Err(err).Msg("config reload refused")
		return
	}
	for _, r := range cfg.Tasks.Routes {
		if _, ok := a.sinks[r.Sink]; !ok {
			log.Error().Str("route", r.Name).Msgf("config reload refused: sink %q is not running; restart to add it", r.Sink)
			return
		}
	}
	if err := a.reloadStreams(context.Background(), cfg); err != nil {
		log.Error().Err(err).Msg("config reload refused")
		return
	}
	a.setRouter(router)
	a.router.set(router)
	log.Info().Int("routes", len(cfg.Tasks.Routes)).Msg("config reloaded: new routes apply from the next cycle")
}

func schemaListOptions(tc *config.TasksConfig) schema.ListOptions {
	return schema.ListOptions{PageSize: tc.PageSize, Concurrency: tc.Concurrency, Query: tc.Query, MaxTasks: tc.MaxTasks}
}
