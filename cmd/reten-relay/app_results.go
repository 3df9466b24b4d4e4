package main

import (
	"context"
	"fmt"

	"github.com/reten/reten-relay/relay"
	"github.com/reten/reten-relay/relay/config"
	"github.com/reten/reten-relay/relay/results"
	"github.com/reten/reten-relay/sources/kafkaresults"
	"github.com/reten/reten-relay/sources/natsresults"
)

// buildResults wires the results pipeline: the source of result messages, the sink of dead
// letters and outcomes on the same broker, and the Reten client as submitter.
func (a *app) buildResults(ctx context.Context, cfg *config.Config, opts appOptions) error {
	rc := cfg.Results
	log := a.log.With().Str("component", "results").Logger()
	var (
		source relay.ResultSource
		out    relay.Sink
		// The broker's cap on unsettled messages is also the pipeline's cap on what it
		// holds: room for every worker plus retries waiting and a queue to take from.
		maxPending = max(1024, 8*rc.Concurrency)
		// A dead letter must fit what the broker takes (Kafka's default message.max.bytes
		// is about 1 MB).
		dlMaxBytes = 1_000_000
	)
	switch rc.Source {
	case config.SinkNATS:
		// buildNATS has ensured the input, dead-letter and outcome streams already.
		src, err := natsresults.New(ctx, a.nats.Conn(), natsresults.Config{
			Stream: rc.Stream, Subjects: []string{rc.Subject}, StreamLimits: streamLimits(cfg), Durable: rc.Durable, AckWait: rc.AckWait,
			MaxAckPending: maxPending, FetchBatch: min(256, max(16, 2*rc.Concurrency)), Logger: log,
		})
		if err != nil {
			return fmt.Errorf("results: %w", err)
		}
		source, out = src, a.nats
		dlMaxBytes = int(a.nats.Conn().MaxPayload())
	case config.SinkKafka:
		src, err := kafkaresults.New(ctx, kafkaresults.Config{
			Brokers: cfg.Kafka.Brokers, Topic: rc.Topic, Group: rc.Group, Logger: log,
			TLS: a.sec.kafkaTLS, SASL: a.sec.kafkaSASL,
		})
		if err != nil {
			return fmt.Errorf("results: %w", err)
		}
		source, out = src, a.kafka
	default:
		return fmt.Errorf("results.source %q: want nats or kafka", rc.Source)
	}
	a.onClose("results source", source.Close)
	rcfg := results.Config{
		Source:                source,
		Submitter:             a.client,
		DeadLetters:           out,
		DeadLetterDestination: rc.DeadLetter,
		Concurrency:           rc.Concurrency,
		MaxBuffered:           maxPending,
		DeadLetterMaxBytes:    dlMaxBytes,
		Backoff:               results.Backoff{Initial: rc.Backoff.Initial, Max: rc.Backoff.Max, MaxElapsed: rc.Backoff.MaxElapsed},
		OnConflict:            rc.OnConflict,
		AuthProbeInterval:     rc.AuthProbeInterval,
		ResultTypesRefresh:    rc.ResultTypesRefresh,
		StallAfter:            rc.StallAfter,
		Logger:                log,
		Metrics:               a.metrics,
		Health:                a.health,
		OnSettled:             opts.onSettled,
	}
	if rc.Outcomes != "" {
		rcfg.Outcomes, rcfg.OutcomeDestination = out, rc.Outcomes
	}
	p, err := results.New(rcfg)
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	a.results = p
	return nil
}
