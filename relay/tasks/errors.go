package tasks

import "errors"

// Errors of the tasks pipeline, for errors.Is.
var (
	// ErrInvalidConfig: New was given a Config it cannot run with.
	ErrInvalidConfig = errors.New("tasks: invalid config")
	// ErrIncompleteListing: the listing did not cover every page. The cycle committed the
	// tasks it saw (created, updated) but no delete, and is retried.
	ErrIncompleteListing = errors.New("tasks: incomplete listing")
	// ErrUnknownSink: a route named a sink that the Poller was not given.
	ErrUnknownSink = errors.New("tasks: route names an unknown sink")
	// ErrOutboxFull: a sink has more messages waiting than Config.OutboxLimit; cycles do
	// not list until it drains.
	ErrOutboxFull = errors.New("tasks: outbox full")
)
