package natsstate

import (
	"errors"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrInvalidConfig: the Config is unusable.
var ErrInvalidConfig = errors.New("invalid natsstate config")

// ErrBucket: the bucket cannot hold the relay's state as it is configured.
var ErrBucket = errors.New("key-value bucket unusable")

// ErrCorrupt: the bucket holds a record this version cannot read.
var ErrCorrupt = errors.New("state bucket holds an unreadable record")

// ErrNotHolder: this relay does not hold the poller lease (any more), so it may not write
// the state or publish the outbox. Wraps jetstream.ErrKeyRevisionMismatch when the bucket
// refused a write because another relay renewed or took the lease.
var ErrNotHolder = errors.New("not the poller lease holder")

// JetStream API error codes the store classifies by.
const (
	codeWrongLastSeq jetstream.ErrorCode = 10071 // expected last (subject) sequence mismatch
)

// isCode reports whether err is a JetStream API error with code.
func isCode(err error, code jetstream.ErrorCode) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == code
}
