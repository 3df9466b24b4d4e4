package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/segmentio/kafka-go"

	"github.com/reten/reten-relay/schema"
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
			nc, err := nats.Connect(cfg.NATS.URL, nats.Name(cfg.NATS.Name+"-check"), nats.Timeout(*timeout))
			if err != nil {
				report(false, "nats %s: %v", cfg.NATS.URL, err)
			} else {
				_, jsErr := nc.JetStream()
				report(jsErr == nil, "nats %s: connected (server %s)", nc.ConnectedUrlRedacted(), nc.ConnectedServerVersion())
				nc.Close()
			}
		}
	}
	if cfg.Kafka.Configured() {
		conn, err := (&kafka.Dialer{Timeout: *timeout}).DialContext(cctx, "tcp", cfg.Kafka.Brokers[0])
		if err != nil {
			report(false, "kafka %s: %v", cfg.Kafka.Brokers[0], err)
		} else {
			brokers, err := conn.Brokers()
			report(err == nil, "kafka %s: connected (%d brokers)", cfg.Kafka.Brokers[0], len(brokers))
			_ = conn.Close()
		}
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
	client, err := reten.New(reten.Config{BaseURL: base, APIKey: reten.APIKey(key), Timeout: cfg.Reten.Timeout, UserAgent: userAgent()})
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
