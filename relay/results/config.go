// Package results is the results pipeline: it receives result messages from a broker,
// validates them against Reten's documented body and the tenant's result types, submits
// them to Reten with backoff, and settles each one only when its outcome is final — Reten
// has it (2xx, or 409: already recorded), or it is provably hopeless and a dead letter
// with the reason was confirmed by the broker (design §6).
//
// Failure classes: transient answers (408, 425, 429, 5xx, timeouts) are retried with
// exponential backoff and jitter, never sooner than Retry-After, and a 429 slows every
// worker; waits longer than Config.LongWait go back to the broker. Auth failures (401, 403)
// pause the whole pipeline — nothing is acked, dead-lettered or nacked in a loop because of
// them — and one probe every AuthProbeInterval finds out when the key works again.
package results

import (
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/reten/reten-relay/relay"
	"github.com/reten/reten-relay/relay/ops"
)

// HealthComponent is the component the pipeline reports in ops.Health.
const HealthComponent = "results.submitter"

// On-conflict policies.
const (
	OnConflictAck        = "ack"
	OnConflictDeadLetter = "dead_letter"
)

// ErrInvalidConfig is returned by New for a config it cannot run with.
var ErrInvalidConfig = errors.New("results: invalid config")

// Backoff shapes the retries of transient failures.
type Backoff struct {
	// Initial is the first wait. Default: 500ms.
	Initial time.Duration
	// Max caps one wait. Default: 1m.
	Max time.Duration
	// MaxElapsed is how long a message may keep failing, counted from its first delivery,
	// before it is dead-lettered with retries_exhausted. Default: 24h.
	MaxElapsed time.Duration
}

// Settled describes a settled message, for Config.OnSettled.
type Settled struct {
	// Outcome is schema.OutcomeAccepted, OutcomeAlreadyRecorded or OutcomeDeadLettered.
	Outcome    string
	Reason     string
	TaskID     string
	HTTPStatus int
	Attempts   int
	Err        string
}

// Config configures a Pipeline.
type Config struct {
	// Source delivers the result messages. Required.
	Source relay.ResultSource
	// Submitter posts them to Reten. Required.
	Submitter relay.Submitter
	// DeadLetters receives dead letters at DeadLetterDestination. Both required.
	DeadLetters           relay.Sink
	DeadLetterDestination string
	// Outcomes, when set, receives an outcome event per settled message at
	// OutcomeDestination (best effort: published after the ack, at most once).
	Outcomes           relay.Sink
	OutcomeDestination string
	// Concurrency is how many messages are submitted at once. Default: 8.
	Concurrency int
	// Backoff shapes retries of transient failures.
	Backoff Backoff
	// RetryAfterCap bounds how long a Retry-After is honoured. Default: 5m.
	RetryAfterCap time.Duration
	// LongWait: a wait longer than this goes back to the broker (redelivery after the wait)
	// instead of holding a worker. Default: 5s.
	LongWait time.Duration
	// OnConflict is what a 409 does: "ack" (already recorded) or "dead_letter". Default: ack.
	OnConflict string
	// AuthProbeInterval is how often Reten is probed while the key is rejected. Default: 30s.
	AuthProbeInterval time.Duration
	// ResultTypesRefresh is how often the tenant's result types are re-read. Default: 10m.
	ResultTypesRefresh time.Duration
	// Logger gets one line per state change and per dead letter. Default: zerolog.Nop().
	Logger zerolog.Logger
	// Metrics and Health may be nil.
	Metrics *ops.Metrics
	Health  *ops.Health
	// OnSettled, when set, is called for every settled message.
	OnSettled func(Settled)
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

func (c *Config) defaults() {
	if c.Concurrency <= 0 {
		c.Concurrency = 8
	}
	if c.Backoff.Initial <= 0 {
		c.Backoff.Initial = 500 * time.Millisecond
	}
	if c.Backoff.Max <= 0 {
		c.Backoff.Max = time.Minute
	}
	if c.Backoff.MaxElapsed <= 0 {
		c.Backoff.MaxElapsed = 24 * time.Hour
	}
	if c.RetryAfterCap <= 0 {
		c.RetryAfterCap = 5 * time.Minute
	}
	if c.LongWait <= 0 {
		c.LongWait = 5 * time.Second
	}
	if c.OnConflict == "" {
		c.OnConflict = OnConflictAck
	}
	if c.AuthProbeInterval <= 0 {
		c.AuthProbeInterval = 30 * time.Second
	}
	if c.ResultTypesRefresh <= 0 {
		c.ResultTypesRefresh = 10 * time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

func (c *Config) validate() error {
	switch {
	case c.Source == nil:
		return fmt.Errorf("%w: Source is required", ErrInvalidConfig)
	case c.Submitter == nil:
		return fmt.Errorf("%w: Submitter is required", ErrInvalidConfig)
	case c.DeadLetters == nil || c.DeadLetterDestination == "":
		return fmt.Errorf("%w: DeadLetters and DeadLetterDestination are required", ErrInvalidConfig)
	case c.Outcomes != nil && c.OutcomeDestination == "":
		return fmt.Errorf("%w: OutcomeDestination is required with Outcomes", ErrInvalidConfig)
	case c.OnConflict != OnConflictAck && c.OnConflict != OnConflictDeadLetter:
		return fmt.Errorf("%w: OnConflict must be ack or dead_letter, got %q", ErrInvalidConfig, c.OnConflict)
	case c.Backoff.Max < c.Backoff.Initial:
		return fmt.Errorf("%w: Backoff.Max %s is less than Backoff.Initial %s", ErrInvalidConfig, c.Backoff.Max, c.Backoff.Initial)
	}
	return nil
}
