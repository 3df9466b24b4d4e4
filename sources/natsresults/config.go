package natsresults

import (
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/reten/reten-relay/sinks/natsstreams"
)

// Config configures a Source. The zero value of every optional field means its default.
type Config struct {
	// Stream is the name of the stream created when no stream captures Subjects. An
	// existing stream that captures them is used whatever its name. Default: "RETEN_RESULTS".
	Stream string
	// Subjects the results are published on, wildcards allowed. Required.
	Subjects []string
	// StreamLimits bound Stream when the source creates it (max_age, max_bytes, ...).
	// Default: natsstreams.DefaultLimits().
	StreamLimits natsstreams.Limits
	// Durable is the durable consumer name. Default: "reten-relay".
	Durable string
	// AckWait is how long the server waits for a settle before it redelivers. Used only
	// when the consumer is created. Default: 30s.
	AckWait time.Duration
	// MaxAckPending caps unsettled messages across all relays sharing the durable. Used only
	// when the consumer is created. Default: 256.
	MaxAckPending int
	// FetchBatch is how many messages one pull request asks for; they wait in memory until
	// Receive hands them out, with their AckWait running. Default: 16.
	FetchBatch int
	// FetchMaxBytes bounds the bytes one pull request asks for (at least twice the
	// server's max_payload, so any message fits). Default: 8 MiB.
	FetchMaxBytes int
	// AckBatchWait is how long acks are collected before one PING confirms them all (see
	// acker). Each ack is written at once; a longer wait saves PINGs and widens only the
	// window in which a lost connection or a crash leaves an ack unconfirmed: it is written
	// again, or the message comes back as a duplicate, which Reten answers with 409.
	// Default: 1s (each round wakes the process a few times: at 100ms, rounds were about a
	// tenth of the CPU a result cost at concurrency 8).
	AckBatchWait time.Duration
	// SettleTimeout bounds an Ack or Retry whose ctx has no deadline. Default: 10s.
	SettleTimeout time.Duration
	// Logger receives start-up and binding messages. Default: zerolog.Nop().
	Logger zerolog.Logger
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Stream == "" {
		c.Stream = "RETEN_RESULTS"
	}
	if c.Durable == "" {
		c.Durable = "reten-relay"
	}
	if c.AckWait == 0 {
		c.AckWait = 30 * time.Second
	}
	if c.MaxAckPending == 0 {
		c.MaxAckPending = 256
	}
	if c.FetchBatch == 0 {
		c.FetchBatch = 16
	}
	if c.FetchMaxBytes == 0 {
		c.FetchMaxBytes = 8 << 20
	}
	if c.AckBatchWait == 0 {
		c.AckBatchWait = time.Second
	}
	if c.SettleTimeout == 0 {
		c.SettleTimeout = 10 * time.Second
	}
	return c
}

// Validate reports the first setting that is missing or out of range. Call it after
// defaults are applied (New does).
func (c Config) Validate() error {
	if len(c.Subjects) == 0 {
		return errors.New("subjects must not be empty")
	}
	for _, s := range c.Subjects {
		if s == "" {
			return errors.New("subjects must not contain an empty subject")
		}
	}
	if c.AckWait < 0 {
		return fmt.Errorf("ack_wait must be >= 0, got %s", c.AckWait)
	}
	if c.MaxAckPending < 0 {
		return fmt.Errorf("max_ack_pending must be >= 0, got %d", c.MaxAckPending)
	}
	if c.FetchBatch < 0 {
		return fmt.Errorf("fetch_batch must be >= 0, got %d", c.FetchBatch)
	}
	if c.FetchMaxBytes < 0 {
		return fmt.Errorf("fetch_max_bytes must be >= 0, got %d", c.FetchMaxBytes)
	}
	if c.AckBatchWait < 0 {
		return fmt.Errorf("ack_batch_wait must be >= 0, got %s", c.AckBatchWait)
	}
	if c.SettleTimeout < 0 {
		return fmt.Errorf("settle_timeout must be >= 0, got %s", c.SettleTimeout)
	}
	return nil
}
