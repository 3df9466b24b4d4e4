package main

import (
	"context"
	"fmt"
	"io"

	"github.com/nats-io/nats.go"

	"github.com/reten/reten-relay/relay/config"
	"github.com/reten/reten-relay/sources/kafkaresults"
	"github.com/reten/reten-relay/sources/natsresults"
)

// cmdDLQ is `dlq replay`: dead letters back to the results input, rate-limited.
func cmdDLQ(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		args = []string{"replay", "-h"}
	}
	if len(args) == 0 || args[0] != "replay" {
		fmt.Fprintln(stderr, "usage: reten-relay dlq replay [-config config.yaml] [-limit N] [-rate 50]\nRun `reten-relay dlq replay -h` for more.")
		return exitUsage
	}
	fs := newFlags("dlq replay")
	path := fs.String("config", "config.yaml", "config file")
	limit := fs.Int("limit", 0, "replay at most this many (0: all there are now)")
	perSecond := fs.Float64("rate", 50, "messages per second at most")
	if code, ok := parseNoArgs(fs, args[1:], stdout, stderr); !ok {
		return code
	}
	cfg, code := loadConfig(*path, stderr, getenv)
	if cfg == nil {
		return code
	}
	if cfg.Results == nil {
		fmt.Fprintf(stderr, "%s: the results section is missing, so there is no dead-letter subject\n", *path)
		return exitUsage
	}
	log, _ := newLogger(stderr, cfg.Log.Level, cfg.Log.Format)
	sec, err := newSecurity(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "dlq replay: %v\n", err)
		return exitFailure
	}
	if cfg.Results.Source == config.SinkKafka {
		n, err := kafkaresults.Replay(ctx, kafkaresults.ReplayOptions{
			Brokers: cfg.Kafka.Brokers, DeadLetterTopic: cfg.Results.DeadLetter, InputTopic: cfg.Results.Topic,
			Limit: *limit, Rate: *perSecond, Logger: log, TLS: sec.kafkaTLS, SASL: sec.kafkaSASL,
		})
		fmt.Fprintf(stdout, "replayed %d dead letters from %s\n", n, cfg.Results.DeadLetter)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitFailure
		}
		return exitOK
	}
	if cfg.NATS.Embedded() {
		fmt.Fprintln(stderr, "dlq replay: nats.url is embedded: the server only runs inside `reten-relay run`; point nats.url at it (its embedded_port) to replay")
		return exitUsage
	}
	nc, err := nats.Connect(cfg.NATS.URL, append([]nats.Option{nats.Name(cfg.NATS.Name + "-dlq-replay")}, sec.natsOpts...)...)
	if err != nil {
		fmt.Fprintf(stderr, "dlq replay: %v\n", explainNATS(redactURL(cfg.NATS.URL), cfg.NATS.NATSAuth(), err))
		return exitFailure
	}
	defer nc.Close()
	n, err := natsresults.Replay(ctx, nc, natsresults.ReplayOptions{
		DeadLetterSubject: cfg.Results.DeadLetter, InputSubject: cfg.Results.Subject, Limit: *limit, Rate: *perSecond, Logger: log,
	})
	fmt.Fprintf(stdout, "replayed %d dead letters from %s\n", n, cfg.Results.DeadLetter)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailure
	}
	return exitOK
}
