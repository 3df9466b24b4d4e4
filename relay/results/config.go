// Package results is the results pipeline: it receives result messages from a broker,
// validates them against Reten's documented body and the tenant's result types, submits
// them to Reten with backoff, and settles each one only when its outcome is final — Reten
// has it (2xx, or 409: already recorded), or it is provably hopeless and a dead letter
// with the reason was confirmed by the broker (design §6).
//
// The delivery engine (design §10) keeps its books under one lock; the receiver, a pool of
// Concurrency workers that POST, short-lived goroutines that settle, and timers update them
// with what they learn, and a worker done with a POST takes the next message itself:
//
//   - Key-ordered dynamic dispatch: any free worker takes the next message whose activity
//     has nothing in flight; later messages of a busy activity wait in its own queue, in
//     order. An activity has an entry only while it has work. MaxBuffered (and
//     MaxBufferedBytes) bound what is held; besides, the receiver reads no further ahead
//     than 2×Concurrency messages that wait for nothing but a free worker (messages held
//     for their activity or a retry do not count, so they never stop the others).
//   - A retry holds no worker: a transient failure parks the message in a timer heap (its
//     activity stays busy); waits past LongWait go back to the broker. The backoff step
//     continues across redeliveries (from what this process remembers, else from the
//     delivery count). Held messages get InProgress well before their ack deadline.
//   - Back off from Reten, not from work: a 429 / Retry-After closes a gate for every
//     worker; when failures span many activities (Reten down or overloaded) the number
//     of POSTs in flight halves (down to one probe, paced by the backoff) and grows again
//     with every success. While failures stay isolated (most POSTs succeed), a failed
//     message waits a twentieth of the configured backoff, so it costs one quick retry and
//     nothing else; while most POSTs fail it waits the full backoff.
//
// Auth failures (401, 403) pause the whole pipeline — nothing is acked, dead-lettered or
// nacked in a loop because of them — and one probe every AuthProbeInterval finds out when
// the key works again.
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
	// MaxElapsed is how long a message may keep failing, counted from its first POST (in
	// this process), before it is dead-lettered with retries_exhausted. Default: 24h.
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
	// Concurrency is how many messages are submitted at once, at most. Default: 8.
	Concurrency int
	// MaxBuffered caps the messages the pipeline holds at once (waiting behind their
	// activity, waiting for a retry, in flight or being settled): the only back-pressure on
	// receiving. Set it near the broker's MaxAckPending. Default: max(256, 8×Concurrency).
	MaxBuffered int
	// MaxBufferedBytes caps the bytes of the messages held. Default: 64 MiB.
	MaxBufferedBytes int
	// DeadLetterMaxBytes is the largest dead letter (body plus headers) the broker takes;
	// a dead letter that would be larger carries a trimmed original and says so.
	// Default: 1 MiB, NATS's default max_payload.
	DeadLetterMaxBytes int
	// Backoff shapes retries of transient failures.
	Backoff Backoff
	// RetryAfterCap bounds how long a Retry-After is honoured. Default: 5m.
	RetryAfterCap time.Duration
	// LongWait: a retry wait longer than this goes back to the broker (redelivery after the
	// wait) instead of waiting in memory. Default: 5s.
	LongWait time.Duration
	// OnConflict is what a 409 does: "ack" (already recorded) or "dead_letter". Default: ack.
	OnConflict string
	// AuthProbeInterval is how often Reten is probed while the key is rejected. Default: 30s.
	AuthProbeInterval time.Duration
	// ResultTypesRefresh is how often the tenant's result types are re-read. Default: 10m.
	ResultTypesRefresh time.Duration
	// StallAfter: while results arrive and none settles for this long, the health turns
	// red with the reason. Default: 5m.
	StallAfter time.Duration
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
	if c.MaxBuffered <= 0 {
		c.MaxBuffered = max(256, 8*c.Concurrency)
	}
	if c.MaxBufferedBytes <= 0 {
		c.MaxBufferedBytes = 64 << 20
	}
	if c.DeadLetterMaxBytes <= 0 {
		c.DeadLetterMaxBytes = 1 << 20
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
	if c.StallAfter <= 0 {
		c.StallAfter = 5 * time.Minute
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
