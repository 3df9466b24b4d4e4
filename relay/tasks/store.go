package tasks

import (
	"context"

	"github.com/reten/reten-relay/schema"
)

// StateStore is the durable state of the tasks pipeline: the snapshot of every task seen
// (tombstones included), the last published JSON of each live task, the outbox of events
// not yet confirmed by the sinks, and a little bookkeeping (Meta). relay/state implements it
// on bbolt. Implementations need not be safe for concurrent use: the Poller calls them from
// one goroutine at a time.
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
	// Outbox returns up to limit pending events, lowest sequence first.
	Outbox(ctx context.Context, limit int) ([]OutboxEvent, error)
	// OutboxLen counts the pending events.
	OutboxLen(ctx context.Context) (int, error)
	// Ack removes the events with these sequence numbers from the outbox. Unknown
	// sequences are ignored, so acking twice is harmless.
	Ack(ctx context.Context, seqs []uint64) error
}

// Entry is what the snapshot remembers of one task. It is small on purpose: the Poller keeps
// every entry in memory, and the last published JSON stays on disk.
type Entry struct {
	// RawHash is a fast hash of the task's JSON exactly as listed; equal raw hashes mean
	// the task is unchanged without looking any further.
	RawHash uint64
	// ContentHash is the SHA-256 of the task's canonical JSON (key order and whitespace
	// do not matter); it decides whether a task changed and goes into event ids.
	ContentHash [32]byte
	// ChangeNo counts the changes published for this task id, deletes included. It
	// survives in the tombstone, so a re-created task gets new event ids.
	ChangeNo uint64
	// Deleted marks a tombstone: the task was published as deleted.
	Deleted bool
	// Suspect marks a live task that was missing from the last complete listing.
	Suspect bool
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
	// Synced is true once a complete listing was committed; before that, EmitInitial
	// decides whether tasks are announced as created.
	Synced bool
	// GuardCycles counts consecutive complete listings in which the mass-delete guard held
	// the deletes.
	GuardCycles int
}

// Commit is what one cycle writes in one transaction.
type Commit struct {
	// Entries are the snapshot entries to replace.
	Entries []EntryUpdate
	// Events are appended to the outbox in this order; the store assigns their Seq.
	Events []OutboxEvent
	// Meta replaces the stored Meta.
	Meta Meta
}

// OutboxEvent is one encoded event waiting for its sinks' confirmation. Body is the
// CloudEvent exactly as it is published, so a re-publish is byte-identical.
type OutboxEvent struct {
	// Seq orders the outbox; assigned by the store on Commit.
	Seq uint64
	// TaskID is the event's subject.
	TaskID string
	// EventID is the CloudEvents id.
	EventID string
	// Op is the event's operation.
	Op schema.Op
	// Body is the encoded CloudEvent (structured JSON).
	Body []byte
}
