package tasks

import "errors"

// Errors of the tasks pipeline, for errors.Is.
var (
	// ErrInvalidConfig: New was given a Config it cannot run with.
	ErrInvalidConfig = errors.New("tasks: invalid config")
	// ErrIncompleteListing: the listing missed pages, repeated ids or had a shifting
	// total. The cycle changed nothing and is retried.
	ErrIncompleteListing = errors.New("tasks: incomplete listing")
	// ErrUnknownSink: a route named a sink that the Poller was not given.
	ErrUnknownSink = errors.New("tasks: route names an unknown sink")
)
