package natssink

import "errors"

var (
	// ErrClosed is returned by Publish after Close.
	ErrClosed = errors.New("nats sink closed")
	// ErrNotConnected wraps publish errors while the connection is down. The connection
	// has no reconnect buffer, so nothing was queued for later: publish again once
	// Connected reports true.
	ErrNotConnected = errors.New("nats connection is down")
	// ErrInvalidOption wraps errors of Options given to New.
	ErrInvalidOption = errors.New("invalid nats sink option")
	// ErrInvalidConfig wraps Config.Validate errors returned by New.
	ErrInvalidConfig = errors.New("invalid nats sink config")
)
