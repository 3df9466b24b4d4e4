package kafkasink

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrClosed is returned by Publish after Close.
	ErrClosed = errors.New("kafka sink closed")
	// ErrInvalidConfig wraps Config.Validate errors returned by New.
	ErrInvalidConfig = errors.New("invalid kafka sink config")
	// ErrTopicMissing is returned by EnsureTopics for a topic that does not exist when
	// Config.CreateTopics is off.
	ErrTopicMissing = errors.New("kafka topic does not exist")
)

// FailedMessage is one message Kafka did not confirm.
type FailedMessage struct {
	// ID is the message id (the ce_id header).
	ID string
	// Topic is where it was going.
	Topic string
	// Err is kafka-go's error for its batch.
	Err error
}

// WriteError says which messages of a Publish were not confirmed and why. The others were
// written. errors.Is and errors.As see every message's error.
type WriteError struct {
	// Total is the number of messages in the Publish.
	Total int
	// Failed are the messages that were not confirmed, in publish order.
	Failed []FailedMessage
}

// Error names up to three failed messages and how many more there were.
func (e *WriteError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "publish to kafka: %d of %d messages failed:", len(e.Failed), e.Total)
	for i, f := range e.Failed {
		if i == 3 {
			fmt.Fprintf(&b, " and %d more", len(e.Failed)-i)
			break
		}
		fmt.Fprintf(&b, " message %s to %s: %v;", f.ID, f.Topic, f.Err)
	}
	return strings.TrimSuffix(b.String(), ";")
}

// Unwrap returns every failed message's error.
func (e *WriteError) Unwrap() []error {
	errs := make([]error, len(e.Failed))
	for i, f := range e.Failed {
		errs[i] = f.Err
	}
	return errs
}
