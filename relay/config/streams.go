package config

import (
	"time"
)

// StreamsConfig bounds the JetStream streams the relay creates when no stream captures a
// subject it uses (task routes, dead letters, outcomes, the results input). Streams that
// already capture a subject are used as they are and never changed.
type StreamsConfig struct {
	// MaxAge drops messages older than this; keep it well above results.backoff.max_elapsed
	// so a result waiting for retries never expires from the input. Default: 168h (7 days).
	MaxAge time.Duration `yaml:"max_age"`
	// MaxBytes caps each stream, e.g. 512MiB or 1GiB. Task-event and outcome streams then
	// drop their oldest messages; the dead-letter stream refuses new ones (they are retried).
	// Default: 1GiB.
	MaxBytes ByteSize `yaml:"max_bytes"`
	// Replicas of each stream: 1 on a single server, 3 or 5 in a cluster. Default: 1.
	Replicas int `yaml:"replicas"`
	// Storage is file or memory. Default: file.
	Storage string `yaml:"storage"`
	// UncapturedTasks is what a task route whose subject no stream captures gets: create
	// (the relay creates the stream RETEN_TASKS: at-least-once) or core (core NATS:
	// at-most-once, only subscribers connected at the time see the event). Dead letters,
	// outcomes and the results input always need a stream. Default: create.
	UncapturedTasks string `yaml:"uncaptured_tasks"`
}

// The streams the relay creates for its own outputs when none captures them;
// results.stream names the input's.
const (
	TaskStream       = "RETEN_TASKS"
	DeadLetterStream = "RETEN_DLQ"
	OutcomeStream    = "RETEN_OUTCOMES"
)

// DefaultStreams returns the nats.streams defaults.
func DefaultStreams() StreamsConfig {
	return StreamsConfig{MaxAge: 7 * 24 * time.Hour, MaxBytes: 1 << 30, Replicas: 1, Storage: "file", UncapturedTasks: "create"}
}

func (c *Config) validateStreams(v *validator) {
	s := c.NATS.Streams
	if s.MaxAge < time.Minute {
		v.add("nats.streams.max_age", "must be >= 1m, got %s", s.MaxAge)
	}
	if s.MaxBytes <= 0 {
		v.add("nats.streams.max_bytes", "must be > 0, got %d", s.MaxBytes)
	}
	v.between("nats.streams.replicas", s.Replicas, 1, 5)
	v.oneOf("nats.streams.storage", s.Storage, "file", "memory")
	v.oneOf("nats.streams.uncaptured_tasks", s.UncapturedTasks, "create", "core")
	if r := c.Results; r != nil && r.Source == SinkNATS {
		switch r.Stream {
		case TaskStream, DeadLetterStream, OutcomeStream:
			v.add("results.stream", "%q is the stream the relay creates for its own task events, dead letters or outcomes; name the input's stream differently", r.Stream)
		}
	}
}
