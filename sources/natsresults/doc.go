// Package natsresults reads result messages from a JetStream durable pull consumer and
// hands them to the relay's results pipeline as schema.Received values that settle with
// Ack or Retry (a NAK with delay, a request the server answers). Ack writes the ack and
// returns; the acks of up to Config.AckBatchWait are confirmed together by one PING, an ack
// lost with its connection is written again (for up to a minute), and Close waits for what
// is not yet confirmed (see acker).
//
// Binding (design §7): when a stream already captures the configured subjects the source
// binds to it and never changes its configuration; it creates a file-backed stream only
// when none does. The same holds for the durable consumer. Start-up logs which it did.
// When the consumer disappears while the relay runs, Receive returns the pull error once
// and the next Receive binds again, creating the consumer when it is still missing (it
// then starts from the beginning of the stream, as a new consumer does).
//
// Receive (or Push, which hands each message over from the pull's own goroutine) pulls up
// to Config.FetchBatch messages ahead (with jetstream's Consume, not its
// Messages iterator: see pull); it keeps working across server restarts and reconnects. Close drops messages pulled but not handed out: the server
// redelivers them after AckWait, as it does every unsettled message.
//
// FirstDelivered is the time the message was stored in the stream, which is no later than
// its first delivery and close to it while the relay keeps up; Deliveries is JetStream's
// own delivery count, so it survives restarts of the relay. AckWait is the bound
// consumer's ack wait (not necessarily Config.AckWait), so the pipeline knows how often a
// message it holds needs an InProgress.
//
// Replay sends dead letters from a dead-letter subject back to the results input, for
// `reten-relay dlq replay`.
package natsresults
