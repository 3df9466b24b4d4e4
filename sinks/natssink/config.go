package natssink

import (
	"errors"
	"fmt"
	"time"
)

// Config configures a Sink. Everything an operator sets lives here; injected
// dependencies (an existing connection, the logger) are Options.
type Config struct {
	// URL is the NATS server URL. Required unless WithConn gives a connection.
	URL string
	// Name is the connection name the server shows. Default: "reten-relay".
	Name string
	// ReconnectWait is the pause between reconnect attempts; the sink reconnects forever.
	// Default: 2s.
	ReconnectWait time.Duration
	// PublishTimeout bounds a Publish whose ctx has no deadline. Default: 30s.
	PublishTimeout time.Duration
	// AckTimeout is how long an abandoned JetStream publish waits for its PubAck before
	// the client forgets it. Default: 1m.
	AckTimeout time.Duration
	// MaxInFlight is how many JetStream publishes one Publish has outstanding before it
	// waits for their PubAcks. Default: 1000.
	MaxInFlight int
	// ClassifyTTL is how long a subject stays classified as core NATS before the sink asks
	// JetStream again, so a stream created later is picked up. Default: 1m.
	ClassifyTTL time.Duration
	// CreateStream, when set, is created at New if no stream of that name exists. An
	// existing stream is never changed. Default: nil (create nothing).
	CreateStream *StreamSpec
}

// StreamSpec is a JetStream stream the sink creates when it is missing.
type StreamSpec struct {
	// Name is the stream name. Required.
	Name string
	// Subjects the stream captures, wildcards allowed. Required.
	Subjects []string
	// Duplicates is the window in which a repeated Nats-Msg-Id is dropped. Default: 2m.
	Duplicates time.Duration
	// MaxAge drops messages older than this. Default: 0 (keep forever).
	MaxAge time.Duration
}

// defaultDuplicates is JetStream's own default duplicate window.
const defaultDuplicates = 2 * time.Minute

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = "reten-relay"
	}
	if c.ReconnectWait == 0 {
		c.ReconnectWait = 2 * time.Second
	}
	if c.PublishTimeout == 0 {
		c.PublishTimeout = 30 * time.Second
	}
	if c.AckTimeout == 0 {
		c.AckTimeout = time.Minute
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 1000
	}
	if c.ClassifyTTL == 0 {
		c.ClassifyTTL = time.Minute
	}
	if c.CreateStream != nil && c.CreateStream.Duplicates == 0 {
		spec := *c.CreateStream
		spec.Duplicates = defaultDuplicates
		c.CreateStream = &spec
	}
	return c
}

// Validate reports the first setting that is out of range. It checks c as given, so call
// it after defaults are applied (New does).
func (c Config) Validate() error {
	if c.ReconnectWait < 0 {
		return fmt.Errorf("reconnect_wait must be >= 0, got %s", c.ReconnectWait)
	}
	if c.PublishTimeout < 0 {
		return fmt.Errorf("publish_timeout must be >= 0, got %s", c.PublishTimeout)
	}
	if c.AckTimeout < 0 {
		return fmt.Errorf("ack_timeout must be >= 0, got %s", c.AckTimeout)
	}
	if c.MaxInFlight < 0 {
		return fmt.Errorf("max_in_flight must be >= 0, got %d", c.MaxInFlight)
	}
	if c.ClassifyTTL < 0 {
		return fmt.Errorf("classify_ttl must be >= 0, got %s", c.ClassifyTTL)
	}
	if c.CreateStream != nil {
		if err := c.CreateStream.Validate(); err != nil {
			return fmt.Errorf("create_stream: %w", err)
		}
	}
	return nil
}

// Validate reports the first setting of s that is missing or out of range.
func (s StreamSpec) Validate() error {
	if s.Name == "" {
		return errors.New("name is required")
	}
	if len(s.Subjects) == 0 {
		return fmt.Errorf("stream %s: subjects must not be empty", s.Name)
	}
	if s.Duplicates < 0 {
		return fmt.Errorf("stream %s: duplicates must be >= 0, got %s", s.Name, s.Duplicates)
	}
	if s.MaxAge < 0 {
		return fmt.Errorf("stream %s: max_age must be >= 0, got %s", s.Name, s.MaxAge)
	}
	return nil
}
