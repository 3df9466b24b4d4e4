package results

import (
	"time"

	"github.com/reten/reten-relay/schema"
)

// item is one message the engine holds, with its delivery history.
type item struct {
	m          schema.Received
	key        string
	msg        *schema.ResultMessage
	rej        *Rejection // hopeless before any POST
	revalidate bool       // unknown result type: re-read the types, then decide
	received   time.Time
	touched    time.Time // last InProgress (or receipt)

	attempts int       // POSTs, across deliveries this process saw
	failures int       // transient failures in a row: the backoff step
	first    time.Time // first POST
	last     time.Time // last POST
	status   int
	response string

	seq  uint64    // dispatch number, for the limiter
	due  time.Time // when parked: when to go on
	heap int       // index in the park heap, -1 when not parked
	dl   *dlJob    // being dead-lettered

	outcome string // why it is acked
}

// dlJob is a dead letter waiting to be published.
type dlJob struct {
	reason, errText string
	fails           int
}

// history is what the engine remembers of a message it gave back to the broker, so the
// next delivery continues its backoff and counts its attempts.
type history struct {
	attempts, failures int
	first, last        time.Time
	until              time.Time // when the redelivery is due; forgotten well after
}

// keyState is an ordering key (activity) with work: the message being handled and the
// ones waiting behind it. It exists only while the key has work.
type keyState struct {
	head  *item   // being handled (ready, in flight, parked or dead-lettering); nil while at the broker
	queue []*item // later messages, in order
	// While the head waits at the broker: which message, and until when at the latest.
	atBroker      schema.Origin
	atBrokerUntil time.Time
}

// posted is what a worker reports after a POST (or after a validation that failed).
type posted struct {
	it         *item
	msg        *schema.ResultMessage
	rej        *Rejection
	status     int
	err        error
	start, end time.Time
}

// settledItem is what a settle goroutine reports.
type settledItem struct {
	it      *item
	dlErr   error // publishing the dead letter failed: retry it later
	release bool  // the key may move on
}
