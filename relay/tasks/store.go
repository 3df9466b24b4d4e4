package tasks

import (
	"context"

	"github.com/reten/reten-relay/schema"
)

// StateStore is the durable state of the tasks pipeline: the snapshot of every task seen
// (tombstones included), the last published JSON of each live task, the outbox of events
// not yet confirmed by their sinks (one queue per sink, so sinks drain independently), and
// a little bookkeeping (Meta). relay/state implements it on bbolt. Commit and the Load*
// calls come from one goroutine at a time; Outbox and Ack may run concurrently for
// different sinks.
type StateStore interface {
	// LoadIndex calls fn for every snapshot entry, tombstones included, in any order.
	LoadIndex(ctx context.Context, fn func(id string, e Entry)) error
	// LoadPublished returns the last published JSON of each of ids that has one. The bytes
	// belong to the caller.
	LoadPublished(ctx context.Context, ids []string) (map[string][]byte, error)
	// LoadMeta returns the bookkeeping saved by the last Commit (zero Meta when none).
	LoadMeta(ctx context.Context) (Meta, error)
	// Commit applies c in one transaction and returns only once it is durable: either all
	// of it is stored or none of it. The store may keep the events' bodies (and hand them
	// out again from Outbox): the caller must not change them afterwards.
	Commit(ctx context.Context, c Commit) error
	// Outbox returns up to limit messages queued for sink after the position after (nil:
	// from the start), in order. Their bodies may be shared: read them, never change them.
	Outbox(ctx context.Context, sink string, after *QueuePos, limit int) ([]Queued, error)
	// Pending counts the messages queued per sink.
	Pending(ctx context.Context) (map[string]int, error)
	// Ack removes these messages from sink's queue (and an event once no queue holds it).
	// Unknown positions are ignored, so acking twice is harmless.
	Ack(ctx context.Context, sink string, pos []QueuePos) error
}

// The state types are defined in schema, so that stores outside relay implement
// StateStore; these names keep the tasks pipeline's vocabulary.
type (
	// Entry is what the snapshot remembers of one task (schema.TaskEntry).
	Entry = schema.TaskEntry
	// EntryUpdate replaces one snapshot entry (schema.TaskEntryUpdate).
	EntryUpdate = schema.TaskEntryUpdate
	// Meta is the Poller's bookkeeping (schema.StateMeta).
	Meta = schema.StateMeta
	// Commit is what one cycle writes in one transaction (schema.StateCommit).
	Commit = schema.StateCommit
	// OutboxEvent is one encoded event and its messages (schema.OutboxEvent).
	OutboxEvent = schema.OutboxEvent
	// EventHead is what message headers are built from (schema.EventHead).
	EventHead = schema.EventHead
	// QueuedTarget is one message of an event (schema.QueuedTarget).
	QueuedTarget = schema.QueuedTarget
	// QueuePos is a message's place in its sink's queue (schema.QueuePos).
	QueuePos = schema.QueuePos
	// Queued is one message waiting in a sink's queue (schema.Queued).
	Queued = schema.Queued
)
