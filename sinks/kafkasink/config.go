package kafkasink

import (
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go/sasl"
)

// Config configures a Sink. Field comments give each default.
type Config struct {
	// Brokers are the bootstrap addresses, host:port. Required.
	Brokers []string
	// ClientID is the client id brokers log. Default: "reten-relay".
	ClientID string
	// CreateTopics lets EnsureTopics create missing topics; without it a missing topic is
	// an error. Default: false.
	CreateTopics bool
	// Partitions is the partition count of topics EnsureTopics creates; -1 takes the
	// broker's default. Default: -1.
	Partitions int
	// ReplicationFactor of topics EnsureTopics creates; -1 takes the broker's default.
	// Default: -1.
	ReplicationFactor int
	// BatchTimeout is how long the writer waits to fill a batch. kafka-go's own default
	// of 1s would delay every small Publish by that much. Default: 5ms.
	BatchTimeout time.Duration
	// BatchSize is the most messages in one produce request per partition. Default: 1000.
	BatchSize int
	// MetadataTTL is how long topic metadata is cached. kafka-go does not refresh it on
	// "not leader for partition", so a short TTL bounds how long writes fail after a
	// leader moves. Default: 1s.
	MetadataTTL time.Duration
	// MaxAttempts is how often kafka-go tries a batch before failing it. Default: 3.
	MaxAttempts int
	// PublishTimeout bounds a Publish whose ctx has no deadline. Default: 30s.
	PublishTimeout time.Duration
	// TLS, when set, connects to the brokers with TLS. Default: nil (plaintext).
	TLS *tls.Config
	// SASL, when set, authenticates every connection. Default: nil.
	SASL sasl.Mechanism
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.ClientID == "" {
		c.ClientID = "reten-relay"
	}
	if c.Partitions == 0 {
		c.Partitions = -1
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = -1
	}
	if c.BatchTimeout == 0 {
		c.BatchTimeout = 5 * time.Millisecond
	}
	if c.BatchSize == 0 {
		c.BatchSize = 1000
	}
	if c.MetadataTTL == 0 {
		c.MetadataTTL = time.Second
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 3
	}
	if c.PublishTimeout == 0 {
		c.PublishTimeout = 30 * time.Second
	}
	return c
}

// Validate reports the first setting that is missing or out of range. It checks c as
// given, so call it after defaults are applied (New does).
func (c Config) Validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("brokers must not be empty")
	}
	for i, b := range c.Brokers {
		if b == "" {
			return fmt.Errorf("brokers[%d] must not be empty", i)
		}
	}
	if c.Partitions == 0 || c.Partitions < -1 {
		return fmt.Errorf("partitions must be > 0 or -1, got %d", c.Partitions)
	}
	if c.ReplicationFactor == 0 || c.ReplicationFactor < -1 {
		return fmt.Errorf("replication_factor must be > 0 or -1, got %d", c.ReplicationFactor)
	}
	if c.BatchTimeout < 0 {
		return fmt.Errorf("batch_timeout must be >= 0, got %s", c.BatchTimeout)
	}
	if c.BatchSize < 1 {
		return fmt.Errorf("batch_size must be > 0, got %d", c.BatchSize)
	}
	if c.MetadataTTL < 0 {
		return fmt.Errorf("metadata_ttl must be >= 0, got %s", c.MetadataTTL)
	}
	if c.MaxAttempts < 1 {
		return fmt.Errorf("max_attempts must be > 0, got %d", c.MaxAttempts)
	}
	if c.PublishTimeout < 0 {
		return fmt.Errorf("publish_timeout must be >= 0, got %s", c.PublishTimeout)
	}
	return nil
}
