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
	// of it is stored or none of it.
	Commit(ctx context.Context, c Commit) error
	// Outbox returns up to limit messages queued for sink after the position after (nil:
	// from the start), in order.
	Outbox(ctx context.Context, sink string, after *QueuePos, limit int) ([]Queued, error)
	// Pending counts the messages queued per sink.
	Pending(ctx context.Context) (map[string]int, error)
	// Ack removes these messages from sink's queue (and an event once no queue holds it).
	// Unknown positions are ignored, so acking twice is harmless.
	Ack(ctx context.Context, sink string, pos []QueuePos) error
}

// Entry is what the snapshot remembers of one task. It is small on purpose: the Poller keeps
// every entry in memory, and the last published JSON stays on disk.
type Entry struct {
	// RawHash is a fast hash of the task's JSON exactly as listed; equal raw hashes mean
	// the task is unchanged without looking any further.
	RawHash uint64
	// Content is a fingerprint (the first 8 bytes of the SHA-256) of the task's canonical
	// JSON (key order and whitespace do not matter); it decides whether a task changed. It
	// is only ever compared with the same task's previous version, so 64 bits are plenty.
	Content uint64
	// ChangeNo counts the changes published for this task id, deletes included. It
	// survives in the tombstone, so a re-created task gets new event ids.
	ChangeNo uint64
	// Deleted marks a tombstone: the task was published as deleted.
	Deleted bool
	// Suspect marks a live task that was missing from the last covered listing.
	Suspect bool
	// DeletedAt is when a tombstone was written (unix seconds); tombstones expire after
	// Config.TombstoneTTL.
	DeletedAt int64
}

// EntryUpdate replaces one snapshot entry.
type EntryUpdate struct {
	// ID is the task id.
	ID string
	// Entry is the new entry. When Entry.Deleted, the store drops the published JSON.
	Entry Entry
	// Published, when not nil, replaces the task's last published JSON.
	Published []byte
}

// Meta is the Poller's bookkeeping, stored with every Commit.
type Meta struct {
	// Synced is true once a covered listing was committed; before that, EmitInitial
	// decides whether tasks are announced as created.
	Synced bool
	// GuardCycles counts consecutive covered listings in which the mass-delete guard held
	// the deletes.
	GuardCycles int
}

// Commit is what one cycle writes in one transaction.
type Commit struct {
	// Entries are the snapshot entries to replace, sorted by ID (bbolt appends sorted keys
	// cheaply; random ones split pages all over the file).
	Entries []EntryUpdate
	// Drop are snapshot entries (expired tombstones) to remove.
	Drop []string
	// Events are appended to the outbox in this order; the store assigns their Seq.
	Events []OutboxEvent
	// Meta replaces the stored Meta.
	Meta Meta
}

// OutboxEvent is one encoded event and the messages it becomes, routed at commit time so
// draining parses nothing. Body is the CloudEvent exactly as it is published, so a
// re-publish is byte-identical.
type OutboxEvent struct {
	// Seq orders the outbox; assigned by the store on Commit.
	Seq uint64
	// Head is what the message headers are made of.
	Head EventHead
	// Body is the encoded CloudEvent (structured JSON).
	Body []byte
	// Targets are the messages of this event, in route order.
	Targets []QueuedTarget
}

// EventHead is the part of an event its messages' headers are built from.
type EventHead struct {
	// TaskID is the event's subject.
	TaskID string
	// EventID is the CloudEvents id.
	EventID string
	// Op is the event's operation.
	Op schema.Op
	// Source is the CloudEvents source.
	Source string
}

// QueuedTarget is one message of an event: where it goes, and its own body when the sink
// cannot take the event's (a trimmed copy).
type QueuedTarget struct {
	// Route, Sink, Destination and Key are the routing decision (see relay.Target).
	Route, Sink, Destination, Key string
	// Body, when not nil, replaces the event's body for this message.
	Body []byte
}

// QueuePos is a message's place in its sink's queue.
type QueuePos struct {
	// Seq is the event's outbox sequence.
	Seq uint64
	// N is the message's index among the event's targets.
	N uint16
}

// Queued is one message waiting in a sink's queue.
type Queued struct {
	// Pos is where it is in the queue; Ack takes it.
	Pos QueuePos
	// Head and Target address it; Body is the bytes to publish.
	Head   EventHead
	Target QueuedTarget
	Body   []byte
}
