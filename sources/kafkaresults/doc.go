// Package kafkaresults reads result messages from a Kafka topic with a consumer group and
// hands them to the relay's results pipeline as schema.Received values.
//
// A new group starts at the earliest offset, so nothing produced before the relay's first
// start is skipped.
//
// Design: a kafka-go ConsumerGroup hands out generations; for every partition assigned in a
// generation the source runs its own partition Reader. That costs a connection per partition,
// and buys what the group Reader (which merges partitions into one stream) cannot give:
// per-partition flow control. At most MaxInFlight messages of one partition are unsettled at
// a time, so a partition whose head message waits (Retry with a long delay) stops fetching
// while every other partition keeps flowing.
//
// Offsets are committed only up to the last message whose outcome is final, in order per
// partition: a message settled out of order waits until every earlier one of its partition
// is settled. Commits are made by one goroutine per generation, coalescing Acks, and a last
// time when the generation ends (Close or rebalance). So Ack returns before its offset is
// committed: a crash in between redelivers the message (at least once; Reten answers a
// repeated result with 409, which the relay records as already recorded).
//
// Retry keeps the message in memory and delivers it again after the delay; its offset stays
// uncommitted meanwhile, so a crash redelivers it from the broker anyway. Kafka has no
// delivery count: Deliveries is 1 plus this process's retries of the message, and
// FirstDelivered is when this process first fetched it (not the record's timestamp, which
// is the producer's clock).
//
// Rebalance: when a generation ends, the source stops reading its partitions and makes a
// last commit. Unsettled messages of those partitions are delivered again to their next
// owner, which may be this process; settling one of the old copies then returns
// ErrPartitionRevoked and changes nothing.
package kafkaresults
