package config

import (
	"strings"
	"time"
)

// Config is the whole configuration file. Build it with Load, LoadFile or DefaultConfig.
// Printing it never shows the API key (Secret redacts itself).
type Config struct {
	// Reten is how to reach the Reten API.
	Reten RetenConfig `yaml:"reten"`
	// NATS is the NATS connection (always configured: it defaults to an embedded server).
	NATS NATSConfig `yaml:"nats"`
	// Kafka is the Kafka connection; configured when Brokers is not empty.
	Kafka KafkaConfig `yaml:"kafka"`
	// Tasks configures the tasks pipeline. Default: nil (section absent: pipeline off).
	Tasks *TasksConfig `yaml:"tasks,omitempty"`
	// Results configures the results pipeline. Default: nil (section absent: pipeline off).
	Results *ResultsConfig `yaml:"results,omitempty"`
	// Dispatch is the push receiver Reten's dispatch configuration POSTs activities to.
	// Default: nil (section absent: no receiver).
	Dispatch *DispatchConfig `yaml:"dispatch,omitempty"`
	// HTTP is the operations endpoint (/healthz, /readyz, /metrics).
	HTTP HTTPConfig `yaml:"http"`
	// Log configures logging.
	Log LogConfig `yaml:"log"`

	// src remembers where each key was in the file, for Validate's messages.
	src *source
}

// RetenConfig says how to reach the Reten API.
type RetenConfig struct {
	// URL is the API base URL: "simulator" (the in-process simulator), one of the shortcuts
	// "prod", "staging", "dev", or an absolute http(s) URL. Default: "simulator".
	URL string `yaml:"url"`
	// APIKey is the integration API key (x-api-key). Required unless URL is "simulator".
	// Default: empty.
	APIKey Secret `yaml:"api_key"`
	// Timeout bounds every HTTP request to Reten. Default: 15s.
	Timeout time.Duration `yaml:"timeout"`
	// TLS adds a CA for a TLS-intercepting proxy (HTTPS_PROXY and NO_PROXY are honoured).
	TLS RetenTLSConfig `yaml:"tls"`
}

// NATSConfig is the NATS connection.
type NATSConfig struct {
	// URL is "embedded" (start an in-process server with JetStream) or one or more
	// comma-separated nats://, tls://, ws:// or wss:// URLs. Default: "embedded".
	URL string `yaml:"url"`
	// Name is the client connection name. Default: "reten-relay".
	Name string `yaml:"name"`
	// StoreDir is the JetStream store of the embedded server. Default: "./data/nats".
	StoreDir string `yaml:"store_dir"`
	// EmbeddedHost is the address the embedded server listens on. Default: "127.0.0.1".
	EmbeddedHost string `yaml:"embedded_host"`
	// EmbeddedPort is the port of the embedded server; -1 picks a free one. Default: -1.
	EmbeddedPort int `yaml:"embedded_port"`
	// Streams bound the JetStream streams the relay creates.
	Streams StreamsConfig `yaml:"streams"`
	// Creds is a NATS credentials file (user JWT + nkey seed). At most one of Creds,
	// NKeySeed, User+Password and Token is set (see secure.go). Default: "".
	Creds string `yaml:"creds"`
	// NKeySeed is a user nkey seed (SU...). Default: "".
	NKeySeed Secret `yaml:"nkey_seed"`
	// User and Password authenticate with a user name and password. Default: "".
	User string `yaml:"user"`
	// Password goes with User. Default: "".
	Password Secret `yaml:"password"`
	// Token is an authentication token. Default: "".
	Token Secret `yaml:"token"`
	// TLS verifies the server and may present a client certificate. Default: off.
	TLS NATSTLSConfig `yaml:"tls"`
}

// KafkaConfig is the Kafka connection.
type KafkaConfig struct {
	// Brokers are host:port seed brokers; Kafka is configured when this is not empty.
	// Default: none.
	Brokers []string `yaml:"brokers"`
	// CreateTopics creates missing topics (existing ones are used as they are).
	// Default: false.
	CreateTopics bool `yaml:"create_topics"`
	// TopicPartitions is the partition count of topics the relay creates. Default: 1.
	TopicPartitions int `yaml:"topic_partitions"`
	// ReplicationFactor of topics the relay creates. Default: 1.
	ReplicationFactor int `yaml:"replication_factor"`
	// ClientID identifies the relay to the brokers. Default: "reten-relay".
	ClientID string `yaml:"client_id"`
	// TLS connects to the brokers with TLS. Default: off.
	TLS KafkaTLSConfig `yaml:"tls"`
	// SASL authenticates to the brokers. Default: off.
	SASL KafkaSASLConfig `yaml:"sasl"`
}

// Configured reports whether Kafka brokers are set.
func (k KafkaConfig) Configured() bool { return len(k.Brokers) > 0 }

// TasksConfig configures the tasks pipeline.
type TasksConfig struct {
	// Interval between two listings, or "off" (IntervalOff) for a push-only relay that
	// keeps the routes and sinks but never polls. Default: 30s.
	Interval time.Duration `yaml:"interval"`
	// PageSize is sent as per_page, 1..100. Default: 100.
	PageSize int `yaml:"page_size"`
	// Concurrency is how many pages are fetched at once, 1..32. Default: 4.
	Concurrency int `yaml:"concurrency"`
	// Query holds extra query parameters of the list endpoint. Default: none.
	Query map[string]string `yaml:"query"`
	// State is where the snapshot and the outbox live: a bbolt file, or
	// "nats-kv:<bucket>", a JetStream KeyValue bucket that several relays share (one of
	// them polls, by lease). Default: "./data/tasks.db".
	State string `yaml:"state"`
	// LeaseTTL is how long the poller lease of a nats-kv state outlives its holder: a
	// follower takes over within about this after the holder dies. Default: 10s.
	LeaseTTL time.Duration `yaml:"lease_ttl"`
	// Replica names this relay in the lease, /metrics and /readyz. Default: the host name.
	Replica string `yaml:"replica"`
	// EmitInitial publishes `created` for every task on the first poll of an empty state;
	// false only records them. Default: true.
	EmitInitial bool `yaml:"emit_initial"`
	// DeleteGuard holds back mass deletions.
	DeleteGuard DeleteGuardConfig `yaml:"delete_guard"`
	// MaxTasks is the largest task list the relay accepts: a listing that says or shows
	// more fails with a clear error instead of growing without bound. Default: 1,000,000.
	MaxTasks int `yaml:"max_tasks"`
	// TombstoneTTL is how long a deleted task's change number is remembered. A task
	// re-created after it starts its change numbers again, so its event ids can repeat old
	// ones: keep it longer than any broker's or consumer's duplicate window. Default: 168h.
	TombstoneTTL time.Duration `yaml:"tombstone_ttl"`
	// Routes say where events go; at least one is required.
	Routes []RouteConfig `yaml:"routes"`
}

// DeleteGuardConfig is the mass-delete guard (design §7).
type DeleteGuardConfig struct {
	// MaxShare is the largest share of the snapshot one listing may delete, in (0, 1].
	// Default: 0.5.
	MaxShare float64 `yaml:"max_share"`
	// MinSnapshot: the guard applies only to snapshots of at least this many tasks.
	// Default: 10.
	MinSnapshot int `yaml:"min_snapshot"`
	// ConfirmCycles is how many consecutive listings must agree before held deletes are
	// published. Default: 3.
	ConfirmCycles int `yaml:"confirm_cycles"`
}

// RouteConfig is one entry of tasks.routes.
type RouteConfig struct {
	// Name identifies the route; required and unique.
	Name string `yaml:"name"`
	// Sink is "nats" or "kafka"; kafka requires kafka.brokers.
	Sink string `yaml:"sink"`
	// Subject is the NATS subject template (sink nats only).
	Subject string `yaml:"subject,omitempty"`
	// Topic is the Kafka topic template (sink kafka only).
	Topic string `yaml:"topic,omitempty"`
	// Key is the Kafka key template (sink kafka only). Default: "{id}".
	Key string `yaml:"key,omitempty"`
	// When maps fields to accepted values (see relay/routing). Default: every event.
	When map[string][]string `yaml:"when,omitempty"`
}

// Destination returns the subject or topic template, whichever the sink uses.
func (r RouteConfig) Destination() string {
	if r.Sink == SinkKafka {
		return r.Topic
	}
	return r.Subject
}

// ResultsConfig configures the results pipeline.
type ResultsConfig struct {
	// Source is "nats" or "kafka". Default: "nats".
	Source string `yaml:"source"`
	// Subject is the NATS input subject, wildcards allowed. Default: "reten.results.>".
	Subject string `yaml:"subject"`
	// Stream is the JetStream stream that captures Subject (bound to if one exists,
	// created otherwise). Default: "RETEN_RESULTS".
	Stream string `yaml:"stream"`
	// Durable is the JetStream durable consumer name. Default: "reten-relay".
	Durable string `yaml:"durable"`
	// Topic is the Kafka input topic (source kafka only).
	Topic string `yaml:"topic"`
	// Group is the Kafka consumer group. Default: "reten-relay".
	Group string `yaml:"group"`
	// Concurrency is how many results are in flight at once, 1..1024. Default: 8.
	Concurrency int `yaml:"concurrency"`
	// DeadLetter is the dead-letter subject or topic; required, must not overlap the input.
	DeadLetter string `yaml:"dead_letter"`
	// Outcomes is the subject or topic for outcome events. Default: "" (none).
	Outcomes string `yaml:"outcomes"`
	// OnConflict is what a 409 does: "ack" or "dead_letter". Default: "ack".
	OnConflict string `yaml:"on_conflict"`
	// Backoff shapes the retries of transient failures.
	Backoff BackoffConfig `yaml:"backoff"`
	// AuthProbeInterval is how often Reten is probed while auth fails. Default: 30s.
	AuthProbeInterval time.Duration `yaml:"auth_probe_interval"`
	// ResultTypesRefresh is how often the tenant's result types are re-read. Default: 10m.
	ResultTypesRefresh time.Duration `yaml:"result_types_refresh"`
	// AckWait is how long JetStream waits for an ack before it redelivers a message the
	// relay took (and, say, crashed with); used when the relay creates the durable.
	// Default: 30s.
	AckWait time.Duration `yaml:"ack_wait"`
	// StallAfter: while results keep arriving and none settles for this long (Reten failing
	// every POST), /readyz turns red with the reason. Default: 5m.
	StallAfter time.Duration `yaml:"stall_after"`
}

// BackoffConfig is an exponential backoff with jitter.
type BackoffConfig struct {
	// Initial is the first wait, > 0. Default: 500ms.
	Initial time.Duration `yaml:"initial"`
	// Max caps one wait, >= Initial. Default: 1m.
	Max time.Duration `yaml:"max"`
	// MaxElapsed is how long a message is retried before it is dead-lettered with
	// retries_exhausted, > 0. Default: 24h.
	MaxElapsed time.Duration `yaml:"max_elapsed"`
}

// HTTPConfig is the operations endpoint.
type HTTPConfig struct {
	// Listen is the host:port of /healthz, /readyz and /metrics. Default: "127.0.0.1:8080".
	Listen string `yaml:"listen"`
}

// LogConfig configures logging.
type LogConfig struct {
	// Level is debug, info, warn or error. Default: "info".
	Level string `yaml:"level"`
	// Format is auto (console on a terminal, JSON otherwise), json or console (colours only on a
	// terminal). Default: "auto".
	Format string `yaml:"format"`
}

// Sink and source names.
const (
	SinkNATS  = "nats"
	SinkKafka = "kafka"
)

// Reten URL shortcuts.
const (
	RetenSimulator = "simulator"
	RetenProdURL   = "https://api.reten.ai"
	RetenStageURL  = "https://api-staging.reten.ai"
	RetenDevURL    = "https://api-development.reten.ai"
)

// NATSEmbedded is the nats.url that starts an in-process server.
const NATSEmbedded = "embedded"

// DefaultConfig returns the configuration of an empty file: simulator, embedded NATS, no
// pipeline.
func DefaultConfig() *Config {
	return &Config{
		Reten: RetenConfig{URL: RetenSimulator, Timeout: 15 * time.Second},
		NATS: NATSConfig{URL: NATSEmbedded, Name: "reten-relay", StoreDir: "./data/nats",
			EmbeddedHost: "127.0.0.1", EmbeddedPort: -1, Streams: DefaultStreams()},
		Kafka: KafkaConfig{TopicPartitions: 1, ReplicationFactor: 1, ClientID: "reten-relay"},
		HTTP:  HTTPConfig{Listen: "127.0.0.1:8080"},
		Log:   LogConfig{Level: "info", Format: "auto"},
	}
}

// DefaultTasks returns the tasks section's defaults (used when the section is present).
func DefaultTasks() *TasksConfig {
	return &TasksConfig{
		Interval: 30 * time.Second, PageSize: 100, Concurrency: 4,
		State: "./data/tasks.db", LeaseTTL: 10 * time.Second, EmitInitial: true, TombstoneTTL: 168 * time.Hour, MaxTasks: 1_000_000,
		DeleteGuard: DeleteGuardConfig{MaxShare: 0.5, MinSnapshot: 10, ConfirmCycles: 3},
	}
}

// DefaultResults returns the results section's defaults (used when the section is present).
func DefaultResults() *ResultsConfig {
	return &ResultsConfig{
		Source: SinkNATS, Subject: "reten.results.>", Stream: "RETEN_RESULTS",
		Durable: "reten-relay", Group: "reten-relay", Concurrency: 8, OnConflict: "ack",
		Backoff:           BackoffConfig{Initial: 500 * time.Millisecond, Max: time.Minute, MaxElapsed: 24 * time.Hour},
		AuthProbeInterval: 30 * time.Second, ResultTypesRefresh: 10 * time.Minute, AckWait: 30 * time.Second, StallAfter: 5 * time.Minute,
	}
}

// applyDefaults lets the decoder fill a section that appears in the file.
func (t *TasksConfig) applyDefaults()   { *t = *DefaultTasks() }
func (r *ResultsConfig) applyDefaults() { *r = *DefaultResults() }

// BaseURL resolves the shortcuts: "" for the simulator, else the http(s) base URL
// without a trailing slash.
func (r RetenConfig) BaseURL() string {
	switch r.URL {
	case RetenSimulator:
		return ""
	case "prod":
		return RetenProdURL
	case "staging":
		return RetenStageURL
	case "dev":
		return RetenDevURL
	}
	return strings.TrimRight(r.URL, "/")
}

// StateKVPrefix marks a tasks.state that is a JetStream KeyValue bucket.
const StateKVPrefix = "nats-kv:"

// StateBucket returns the KeyValue bucket of a "nats-kv:<bucket>" state, or "" for a file.
func (t TasksConfig) StateBucket() string {
	if b, ok := strings.CutPrefix(t.State, StateKVPrefix); ok {
		return b
	}
	return ""
}

// IsSimulator reports whether the in-process simulator stands in for Reten.
func (r RetenConfig) IsSimulator() bool { return r.URL == RetenSimulator }

// Embedded reports whether the relay starts its own NATS server.
func (n NATSConfig) Embedded() bool { return n.URL == NATSEmbedded }
