package relay

import (
	"context"

	"github.com/reten/reten-relay/schema"
)

// Lister lists Reten's whole task list. sources/reten.Client satisfies it.
type Lister interface {
	// StreamTasks fetches every page once and hands each page's tasks to fn as it arrives
	// (Raw is valid only while fn runs). It returns an error when the listing failed or fn
	// did; pages handed to fn before that are still facts. Summary.Covered is true only
	// when every page up to the end of the list came back. Errors are classified with the
	// schema.Err* sentinels.
	StreamTasks(ctx context.Context, opts schema.ListOptions, fn schema.PageFunc) (schema.ListSummary, error)
	// TaskExists asks, with a filtered query, whether task (its JSON as last seen) is still
	// listed. checked is false when the task carries nothing to filter by; then exists says
	// nothing.
	TaskExists(ctx context.Context, task schema.Task) (exists, checked bool, err error)
}

// Sink publishes messages to a broker. It must be safe for concurrent use.
type Sink interface {
	// Publish sends msgs in order and returns nil only when the broker confirmed every one
	// of them. On error some may have been published: the caller publishes them all again
	// (with the same ids, so brokers that deduplicate drop the copies). Cancelling ctx
	// abandons waiting for confirmations and returns ctx's error.
	Publish(ctx context.Context, msgs []schema.Message) error
	// Close flushes pending messages and releases the connection; ctx bounds how long.
	Close(ctx context.Context) error
}

// ResultSource delivers result messages from a broker. It must be safe for concurrent use.
type ResultSource interface {
	// Receive blocks until a message is there or ctx is done. Every message returned must be
	// settled with its Ack or Retry.
	Receive(ctx context.Context) (schema.Received, error)
	// Close stops fetching; unsettled messages will be delivered again later.
	Close(ctx context.Context) error
}

// Submitter talks to Reten's result endpoints. sources/reten.Client satisfies it.
type Submitter interface {
	// SubmitResult POSTs body (a result message, forwarded byte for byte) and returns the
	// HTTP status. Errors are classified with the schema.Err* sentinels.
	SubmitResult(ctx context.Context, body []byte) (status int, err error)
	// ListResultTypes returns the tenant's result types.
	ListResultTypes(ctx context.Context) ([]schema.ResultType, error)
}

// Target is one place a task event goes: a named sink ("nats" or "kafka") and the subject or
// topic there.
type Target struct {
	// Route is the name of the route that produced this target (for logs and metrics).
	Route string
	// Sink names the sink: "nats" or "kafka".
	Sink string
	// Destination is the rendered subject or topic.
	Destination string
	// Key is the Kafka record key; empty means the task id, which keeps each task's events
	// in order in one partition.
	Key string
}

// Router decides where a task event goes. relay/routing builds one from config.
type Router interface {
	// Route returns every target whose route matches ev, in route order; none when no route
	// matches. It must be safe for concurrent use and cheap: it runs for every event.
	Route(ev schema.Event) []Target
}
