package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/reten/reten-relay/relay/config"
	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/sinks/natsstreams"
	"github.com/reten/reten-relay/sources/reten"
	"github.com/reten/reten-relay/sources/reten/retensim"
)

// cmdCheck validates the config, then tries the brokers and the Reten key and reports each:
// exit 0 when everything works, 1 when something does not, 2 for a bad config.
func cmdCheck(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env) int {
	fs := newFlags("check")
	path := fs.String("config", "config.yaml", "config file")
	timeout := fs.Duration("timeout", 10*time.Second, "how long each check may take")
	if code, ok := parseNoArgs(fs, args, stdout, stderr); !ok {
		return code
	}
	cfg, code := loadConfig(*path, stderr, getenv)
	if cfg == nil {
		return code
	}
	fmt.Fprintf(stdout, "✓ config %s is valid\n", *path)
	for _, w := range cfg.Warnings() {
		fmt.Fprintf(stdout, "! %s\n", w.Error())
	}
	ok := true
	report := func(good bool, format string, a ...any) {
		mark := "✓"
		if !good {
			mark, ok = "✗", false
		}
		fmt.Fprintf(stdout, "%s %s\n", mark, fmt.Sprintf(format, a...))
	}
	cctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	if needsNATS(cfg) {
		if cfg.NATS.Embedded() {
			report(true, "nats: embedded server (started by run)")
		} else {
			good, line := checkNATS(cfg, *timeout)
			report(good, "%s", line)
		}
		checkStreams(cctx, cfg, *timeout, report)
	}
	if cfg.Kafka.Configured() {
		good, line := checkKafka(cctx, cfg, *timeout)
		report(good, "%s", line)
	}

	base, key := cfg.Reten.BaseURL(), cfg.Reten.APIKey.Reveal()
	if cfg.Reten.IsSimulator() {
		sim, err := retensim.Start("127.0.0.1:0")
		if err != nil {
			report(false, "reten simulator: %v", err)
			return exitFailure
		}
		defer sim.Close()
		base, key = sim.URL(), sim.APIKey()
		fmt.Fprintln(stdout, "  reten: the in-process simulator (reten.url: simulator)")
	}
	retenTLS, err := cfg.Reten.TLS.ClientConfig()
	if err != nil {
		report(false, "reten.tls: %v", err)
		return exitFailure
	}
	client, err := reten.New(reten.Config{BaseURL: base, APIKey: reten.NewAPIKey(key), Timeout: cfg.Reten.Timeout, UserAgent: userAgent(), TLS: retenTLS})
	if err != nil {
		report(false, "reten: %v", err)
		return exitFailure
	}
	for _, c := range client.CheckPermissions(cctx) {
		switch {
		case c.Err == nil:
			report(true, "reten %s: key accepted (%s)", c.Endpoint, c.Permission)
		case errors.Is(c.Err, schema.ErrAuth):
			report(false, "reten %s: %v", c.Endpoint, c.Err)
		default:
			report(false, "reten %s: could not check: %v", c.Endpoint, c.Err)
		}
	}
	if !ok {
		return exitFailure
	}
	return exitOK
}

// checkStreams proves JetStream answers and says per subject the relay uses which stream
// captures it or what run will create: natsstreams.Plan, the decision run makes.
func checkStreams(ctx context.Context, cfg *config.Config, timeout time.Duration, report func(bool, string, ...any)) {
	sinkNeeds, inputNeeds := natsNeeds(cfg)
	needs := append(sinkNeeds, inputNeeds...)
	var streams []natsstreams.Stream
	if cfg.NATS.Embedded() {
		report(true, "nats: the embedded server has JetStream (its store %s is not inspected here)", cfg.NATS.StoreDir)
	} else {
		opts, err := natsSecurity(cfg.NATS)
		if err != nil {
			return // checkNATS said why
		}
		nc, err := nats.Connect(cfg.NATS.URL, append([]nats.Option{nats.Name(cfg.NATS.Name + "-check"), nats.Timeout(timeout)}, opts...)...)
		if err != nil {
			return // checkNATS said why
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err == nil {
			_, err = js.AccountInfo(ctx)
		}
		if err != nil {
			report(false, "nats: JetStream is not available: %v (the relay needs it for dead letters, outcomes, the results input and at-least-once task routes)", err)
			return
		}
		if streams, err = natsstreams.List(ctx, js); err != nil {
			report(false, "nats: %v", err)
			return
		}
		report(true, "nats: JetStream available (%d streams)", len(streams))
	}
	plan, err := natsstreams.Plan(streams, needs)
	if err != nil {
		report(false, "nats streams: %v", err)
		return
	}
	for _, d := range plan {
		report(true, "nats stream for %s", d)
	}
}
