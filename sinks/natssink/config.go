package natssink

import (
	"fmt"
	"time"

	"github.com/reten/reten-relay/sinks/natsstreams"
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
	// MaxInFlight is how many JetStream publishes one Publish has outstanding before it
	// waits for their PubAcks. Default: 1000.
	MaxInFlight int
	// ClassifyTTL is how long the sink trusts its stream decisions before it lists the
	// streams again; stream advisories, reconnects and "no response from stream" make it
	// look again sooner. Default: 1m.
	ClassifyTTL time.Duration
	// Streams are the subjects the sink publishes to and what it needs there (see
	// natsstreams): a stream that captures one is used as it is; a missing one is created
	// (or, where a Need allows it, core NATS is used). A subject not listed goes to the
	// stream that captures it and is an error when none does. Default: none.
	Streams []natsstreams.Need
	// Limits bound the streams the sink creates. Default: natsstreams.DefaultLimits().
	Limits natsstreams.Limits
}

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
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 1000
	}
	if c.ClassifyTTL == 0 {
		c.ClassifyTTL = time.Minute
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
	if c.MaxInFlight < 0 {
		return fmt.Errorf("max_in_flight must be >= 0, got %d", c.MaxInFlight)
	}
	if c.ClassifyTTL < 0 {
		return fmt.Errorf("classify_ttl must be >= 0, got %s", c.ClassifyTTL)
	}
	for _, n := range c.Streams {
		if n.Subject == "" || (n.Stream == "" && !n.Core) {
			return fmt.Errorf("streams: %q needs a subject and a stream name (or core)", n.Purpose)
		}
	}
	return nil
}
