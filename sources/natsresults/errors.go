package natsresults

import (
	"errors"
	"fmt"

	"github.com/reten/reten-relay/schema"
)

var (
	// ErrClosed is returned by Receive after Close.
	ErrClosed = errors.New("nats result source closed")
	// ErrInvalidConfig wraps Config.Validate errors returned by New, and missing subjects
	// given to Replay.
	ErrInvalidConfig = errors.New("invalid nats result source config")
	// ErrAlreadySettled (a schema.ErrStaleDelivery) is returned when a message is settled a second time, or marked in
	// progress after it was settled.
	ErrAlreadySettled = fmt.Errorf("result message already settled: %w", schema.ErrStaleDelivery)
	// ErrNoDeadLetterStream is returned by Replay when no stream captures the dead-letter
	// subject, so there is nothing to read dead letters from.
	ErrNoDeadLetterStream = errors.New("no jetstream stream captures the dead-letter subject")
	// ErrStreamConflict is returned by New when the subjects are captured by more than one
	// stream, so there is no single stream to bind to.
	ErrStreamConflict = errors.New("result subjects are captured by more than one stream")
)
