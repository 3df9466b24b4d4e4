package natssink

import (
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
)

// Option injects a dependency into New.
type Option func(*options) error

type options struct {
	conn   *nats.Conn
	logger zerolog.Logger
	extra  []nats.Option
}

// WithConn makes the sink publish on an existing connection instead of dialing
// Config.URL, so the results consumer and the sink can share one. The caller keeps
// ownership: Close flushes it but does not close it, and its reconnect settings are the
// caller's (set MaxReconnects(-1) and ReconnectBufSize(-1) as New does).
func WithConn(nc *nats.Conn) Option {
	return func(o *options) error {
		if nc == nil {
			return fmt.Errorf("%w: WithConn: connection is nil", ErrInvalidOption)
		}
		o.conn = nc
		return nil
	}
}

// WithLogger sets the logger. Default: zerolog.Nop().
func WithLogger(l zerolog.Logger) Option {
	return func(o *options) error {
		o.logger = l
		return nil
	}
}

// WithNATSOptions adds nats.go options to the connection New dials: TLS and credentials
// (see cmd/reten-relay/secure.go). They are applied after the sink's own.
func WithNATSOptions(opts ...nats.Option) Option {
	return func(o *options) error {
		o.extra = append(o.extra, opts...)
		return nil
	}
}
