package kafkaresults

import "errors"

var (
	// ErrClosed is returned by Receive after Close.
	ErrClosed = errors.New("kafka result source closed")
	// ErrInvalidConfig wraps Config.Validate errors returned by New.
	ErrInvalidConfig = errors.New("invalid kafka result source config")
	// ErrAlreadySettled is returned when a message is settled a second time.
	ErrAlreadySettled = errors.New("result message already settled")
	// ErrPartitionRevoked is returned when a message is settled after its partition left
	// this consumer (rebalance or Close). Nothing is committed: the partition's next owner
	// delivers the message again.
	ErrPartitionRevoked = errors.New("partition no longer assigned to this consumer")
)
