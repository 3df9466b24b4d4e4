package kafkaresults

import (
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
)

// Config configures a Source. The zero value of every optional field means its default.
type Config struct {
	// Brokers are the bootstrap addresses. Required.
	Brokers []string
	// Topic is the results topic. Required.
	Topic string
	// Group is the consumer group. A new group starts at the earliest offset. Default:
	// "reten-relay".
	Group string
	// MaxInFlight bounds the unsettled messages of one partition; that partition stops
	// fetching beyond it while others go on. Default: 64.
	MaxInFlight int
	// SessionTimeout is how long the coordinator waits for a heartbeat before it gives this
	// member's partitions to another. Default: 10s.
	SessionTimeout time.Duration
	// HeartbeatInterval is how often this member tells the coordinator it is alive, and so
	// how soon it learns of a rebalance. Default: 1s.
	HeartbeatInterval time.Duration
	// RebalanceTimeout is how long the coordinator waits for members to rejoin. Default: 30s.
	RebalanceTimeout time.Duration
	// JoinGroupBackoff is the pause before joining again after an error. Default: 1s.
	JoinGroupBackoff time.Duration
	// MaxWait is how long one fetch waits for new records on the broker. Default: 500ms.
	MaxWait time.Duration
	// Logger reports rebalances and commit failures. Default: zerolog.Nop().
	Logger zerolog.Logger
	// TLS, when set, connects to the brokers with TLS. Default: nil (plaintext).
	TLS *tls.Config
	// SASL, when set, authenticates every connection. Default: nil.
	SASL sasl.Mechanism
}

// dialer is the kafka-go dialer of the group and the readers: TLS and SASL as set.
func dialer(clientID string, t *tls.Config, m sasl.Mechanism) *kafka.Dialer {
	return &kafka.Dialer{ClientID: clientID, Timeout: 10 * time.Second, DualStack: true, TLS: t, SASLMechanism: m}
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Group == "" {
		c.Group = "reten-relay"
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 64
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = 10 * time.Second
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = time.Second
	}
	if c.RebalanceTimeout == 0 {
		c.RebalanceTimeout = 30 * time.Second
	}
	if c.JoinGroupBackoff == 0 {
		c.JoinGroupBackoff = time.Second
	}
	if c.MaxWait == 0 {
		c.MaxWait = 500 * time.Millisecond
	}
	return c
}

// Validate reports the first setting that is missing or out of range. Call it after
// defaults are applied (New does).
func (c Config) Validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("brokers must not be empty")
	}
	if c.Topic == "" {
		return errors.New("topic is required")
	}
	if c.MaxInFlight < 1 {
		return fmt.Errorf("max_in_flight must be >= 1, got %d", c.MaxInFlight)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"session_timeout", c.SessionTimeout}, {"heartbeat_interval", c.HeartbeatInterval},
		{"rebalance_timeout", c.RebalanceTimeout}, {"join_group_backoff", c.JoinGroupBackoff}, {"max_wait", c.MaxWait},
	} {
		if d.v < 0 {
			return fmt.Errorf("%s must be >= 0, got %s", d.name, d.v)
		}
	}
	if c.HeartbeatInterval >= c.SessionTimeout {
		return fmt.Errorf("heartbeat_interval (%s) must be shorter than session_timeout (%s)", c.HeartbeatInterval, c.SessionTimeout)
	}
	return nil
}
