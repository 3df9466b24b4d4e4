package kafkasink

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// pingTimeout bounds one broker's answer to Ping.
const pingTimeout = 3 * time.Second

// Ping asks the brokers, one after another, for the cluster's metadata through dialer (which
// carries the TLS and SASL settings). kafka-go keeps no connection state to watch, so this is
// how readiness and `check` learn that a broker answers. It returns nil at the first broker
// that answers, otherwise the last broker's error, wrapped in a *BrokerError naming it.
func Ping(ctx context.Context, dialer *kafka.Dialer, brokers []string) error {
	var err error
	for _, b := range brokers {
		err = pingOne(ctx, dialer, b)
		if err == nil {
			return nil
		}
		err = &BrokerError{Broker: b, Err: err}
	}
	return err
}

func pingOne(ctx context.Context, dialer *kafka.Dialer, broker string) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	conn, err := dialer.DialContext(ctx, "tcp", broker)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(pingTimeout))
	_, err = conn.Brokers()
	return err
}

// BrokerError is a failure of one broker.
type BrokerError struct {
	// Broker is the host:port that failed.
	Broker string
	// Err is what failed.
	Err error
}

// Error names the broker.
func (e *BrokerError) Error() string { return fmt.Sprintf("kafka broker %s: %v", e.Broker, e.Err) }

// Unwrap returns the broker's error.
func (e *BrokerError) Unwrap() error { return e.Err }
