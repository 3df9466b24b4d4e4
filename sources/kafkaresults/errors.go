package kafkaresults

import (
	"errors"
	"fmt"

	"github.com/reten/reten-relay/schema"
)

var (
	// ErrClosed is returned by Receive after Close.
	ErrClosed = errors.New("kafka result source closed")
	// ErrInvalidConfig wraps Config.Validate errors returned by New.
	ErrInvalidConfig = errors.New("invalid kafka result source config")
	// ErrAlreadySettled (a schema.ErrStaleDelivery) is returned when a message is settled a second time.
	ErrAlreadySettled = fmt.Errorf("result message already settled: %w", schema.ErrStaleDelivery)
	// ErrPartitionRevoked (a schema.ErrStaleDelivery) is returned when a message is settled after its partition left
	// this consumer (rebalance or Close). Nothing is committed: the partition's next owner
	// delivers the message again.
	ErrPartitionRevoked = fmt.Errorf("partition no longer assigned to this consumer: %w", schema.ErrStaleDelivery)
)
