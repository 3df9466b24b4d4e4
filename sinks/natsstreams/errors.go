package natsstreams

import "errors"

var (
	// ErrConflict wraps a plan that cannot be met without changing a stream the relay does
	// not own. It is permanent: retrying does not help; the operator must change a stream
	// or the config.
	ErrConflict = errors.New("jetstream stream conflict")
	// ErrNoStream wraps a publish to a subject no stream captures when core NATS is not
	// allowed for it (a subject that is not a declared Need).
	ErrNoStream = errors.New("no jetstream stream captures the subject")
)
