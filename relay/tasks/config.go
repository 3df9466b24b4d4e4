package tasks

import (
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/reten/reten-relay/relay"
	"github.com/reten/reten-relay/relay/ops"
	"github.com/reten/reten-relay/schema"
)

// Config configures a Poller. Zero values of the optional fields take the documented
// defaults.
type Config struct {
	// Source is the CloudEvents source of every event: the Reten base URL. Required.
	Source string
	// Interval is the time between the starts of two complete cycles. Default: 30s.
	Interval time.Duration
	// List is passed to the Lister. Its Progress, if set, is called too.
	List schema.ListOptions
	// EmitInitial publishes created for every task of the first complete listing on an
	// empty state; when false that listing is only remembered.
	EmitInitial bool
	// DeleteGuard holds mass deletes back.
	DeleteGuard DeleteGuard
	// Backoff paces the retries of a failed or incomplete cycle.
	Backoff Backoff
	// PublishBatch is how many queued messages one Publish call gets; a sink has up to
	// eight such batches unconfirmed at once. Default: 1000.
	PublishBatch int
	// ChunkSize is how many new or changed tasks a listing commits at a time while it goes
	// on; the next chunk waits while a sink has more than this many messages to confirm.
	// Default: 10,000.
	ChunkSize int
	// TombstoneTTL is how long a deleted task's tombstone (its change number) is kept.
	// A task re-created after that starts its change numbers again, so its event ids may
	// repeat ids published before: keep it longer than any consumer's or broker's
	// duplicate window. Default: 7 days; negative keeps tombstones forever.
	TombstoneTTL time.Duration
	// MaxExistsChecks caps the filtered queries (Lister.TaskExists) one cycle makes to
	// confirm deletes; the other suspects wait for the next covered listing. Default: 2000.
	MaxExistsChecks int
	// OutboxLimit is how many messages a sink may have waiting before cycles stop listing
	// (so an outage cannot grow the state file without bound). Default: 1,000,000.
	OutboxLimit int

	// Lister lists the tasks. Required.
	Lister relay.Lister
	// Router decides where each event goes. Required; see Poller.SetRouter.
	Router relay.Router
	// Sinks are the sinks routes may name, by name ("nats", "kafka"). Required.
	Sinks map[string]relay.Sink
	// Store is the durable state. Required. The Poller does not close it.
	Store StateStore
	// Logger receives the cycle summaries and warnings. Default: zerolog.Nop().
	Logger zerolog.Logger
	// Metrics, when not nil, is updated with the poll and publish metrics.
	Metrics *ops.Metrics
	// Health, when not nil, gets the component "tasks.poller".
	Health *ops.Health
	// Now is the clock for event times and health. Default: time.Now.
	Now func() time.Time
	// OnCycle, when set, is told about every cycle as it ends (the demo prints them).
	OnCycle func(CycleReport, error)
	// Hooks are test seams for crash tests; leave zero in production.
	Hooks Hooks
}

// DeleteGuard holds back a mass delete: when a complete listing would delete more than
// MaxShare of a snapshot of at least MinSnapshot live tasks, or comes back empty while
// the snapshot is not, the deletes are held and a warning logged until ConfirmCycles
// consecutive complete listings agree.
type DeleteGuard struct {
	// MaxShare is the largest share of the snapshot one listing may delete. Default: 0.5.
	MaxShare float64
	// MinSnapshot is the smallest snapshot the share rule applies to. Default: 10.
	MinSnapshot int
	// ConfirmCycles is how many consecutive complete listings must agree before held
	// deletes are released. Default: 3.
	ConfirmCycles int
}

// Backoff paces the retries of a failed cycle: exponential with jitter from Initial,
// capped at Max.
type Backoff struct {
	// Initial is the first wait. Default: 1s.
	Initial time.Duration
	// Max caps the wait. Default: 1m.
	Max time.Duration
}

// Hooks are test seams that let crash tests stop the process at precise points.
type Hooks struct {
	// AfterOutboxCommit runs right after a cycle committed its snapshot and outbox, before
	// anything of it is published.
	AfterOutboxCommit func()
	// AfterPublish runs after a sink confirmed a batch of queued messages and before they
	// are removed from the outbox.
	AfterPublish func()
}

// Health component name and thresholds.
const (
	// HealthComponent is the name the Poller registers in ops.Health.
	HealthComponent = "tasks.poller"
	// failuresBeforeUnready is how many cycles in a row may fail before /readyz turns red.
	failuresBeforeUnready = 3
	// staleIntervals is how many intervals the last complete poll may be old, and a sink
	// may go without confirming any of its waiting messages.
	staleIntervals = 3
	// DefaultTombstoneTTL is Config.TombstoneTTL's default: far longer than JetStream's
	// duplicate window (2 minutes by default) or any consumer's dedupe memory we know of.
	DefaultTombstoneTTL = 7 * 24 * time.Hour
)

func (c *Config) setDefaults() {
	if c.Interval == 0 {
		c.Interval = 30 * time.Second
	}
	if c.DeleteGuard.MaxShare == 0 {
		c.DeleteGuard.MaxShare = 0.5
	}
	if c.DeleteGuard.MinSnapshot == 0 {
		c.DeleteGuard.MinSnapshot = 10
	}
	if c.DeleteGuard.ConfirmCycles == 0 {
		c.DeleteGuard.ConfirmCycles = 3
	}
	if c.Backoff.Initial == 0 {
		c.Backoff.Initial = time.Second
	}
	if c.Backoff.Max == 0 {
		c.Backoff.Max = time.Minute
	}
	if c.PublishBatch == 0 {
		c.PublishBatch = 1000
	}
	if c.ChunkSize == 0 {
		c.ChunkSize = defaultChunkSize
	}
	if c.TombstoneTTL == 0 {
		c.TombstoneTTL = DefaultTombstoneTTL
	}
	if c.MaxExistsChecks == 0 {
		c.MaxExistsChecks = 2000
	}
	if c.OutboxLimit == 0 {
		c.OutboxLimit = 1_000_000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

func (c *Config) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	if c.Source == "" {
		return bad("source must be set (the Reten base URL)")
	}
	if c.Interval < 0 {
		return bad("interval must be > 0, got %s", c.Interval)
	}
	if c.DeleteGuard.MaxShare < 0 || c.DeleteGuard.MaxShare > 1 {
		return bad("delete guard max share must be within (0, 1], got %v", c.DeleteGuard.MaxShare)
	}
	if c.DeleteGuard.MinSnapshot < 0 {
		return bad("delete guard min snapshot must be >= 0, got %d", c.DeleteGuard.MinSnapshot)
	}
	if c.DeleteGuard.ConfirmCycles < 0 {
		return bad("delete guard confirm cycles must be >= 1, got %d", c.DeleteGuard.ConfirmCycles)
	}
	if c.Backoff.Initial < 0 || c.Backoff.Max < c.Backoff.Initial {
		return bad("backoff needs 0 < initial <= max, got initial %s max %s", c.Backoff.Initial, c.Backoff.Max)
	}
	if c.ChunkSize < 0 {
		return bad("chunk size must be > 0, got %d", c.ChunkSize)
	}
	if c.PublishBatch < 0 {
		return bad("publish batch must be > 0, got %d", c.PublishBatch)
	}
	if c.MaxExistsChecks < 0 || c.OutboxLimit < 0 {
		return bad("max exists checks and outbox limit must be > 0, got %d and %d", c.MaxExistsChecks, c.OutboxLimit)
	}
	if c.Lister == nil {
		return bad("lister must be set")
	}
	if c.Router == nil {
		return bad("router must be set")
	}
	if len(c.Sinks) == 0 {
		return bad("at least one sink must be set")
	}
	for name, s := range c.Sinks {
		if s == nil {
			return bad("sink %q is nil", name)
		}
	}
	if c.Store == nil {
		return bad("store must be set")
	}
	return nil
}
