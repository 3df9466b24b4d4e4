package schema

import (
	"encoding/binary"
	"errors"
)

// The tasks pipeline's state types (relay/tasks.StateStore): they live here so that a
// store outside relay (sinks/natsstate, on JetStream KV) implements the interface without
// importing relay, as the layering requires (sinks and sources import schema only).

// TaskEntry is what the snapshot remembers of one task. It is small on purpose: the Poller keeps
// every entry in memory, and the last published JSON stays on disk.
type TaskEntry struct {
	// RawHash is a fast hash of the task's JSON exactly as listed; equal raw hashes mean
	// the task is unchanged without looking any further.
	RawHash uint64
	// Content is a fingerprint (the first 8 bytes of the SHA-256) of the task's canonical
	// JSON (key order and whitespace do not matter); it decides whether a task changed. It
	// is only ever compared with the same task's previous version, so 64 bits are plenty.
	// 0 means not computed yet: a new task's is computed when its bytes first change.
	Content uint64
	// ChangeNo counts the changes published for this task id, deletes included. It
	// survives in the tombstone, so a re-created task gets new event ids.
	ChangeNo uint64
	// Deleted marks a tombstone: the task was published as deleted.
	Deleted bool
	// Suspect marks a live task that was missing from the last covered listing.
	Suspect bool
	// DeletedAt is when a tombstone was written (unix seconds); tombstones expire after
	// relay/tasks Config.TombstoneTTL.
	DeletedAt int64
}

// TaskEntryUpdate replaces one snapshot entry.
type TaskEntryUpdate struct {
	// ID is the task id.
	ID string
	// Entry is the new entry. When Entry.Deleted, the store drops the published JSON.
	Entry TaskEntry
	// Published, when not nil, replaces the task's last published JSON.
	Published []byte
	// New says the snapshot holds no entry for ID (not even a tombstone), so a store need
	// not look for an earlier version to replace: a first sync's 100,000 look-ups.
	New bool
}

// StateMeta is the Poller's bookkeeping, stored with every Commit.
type StateMeta struct {
	// Synced is true once a covered listing was committed; before that, EmitInitial
	// decides whether tasks are announced as created.
	Synced bool
	// GuardCycles counts consecutive covered listings in which the mass-delete guard held
	// the deletes.
	GuardCycles int
}

// StateCommit is what one cycle writes in one transaction.
type StateCommit struct {
	// Entries are the snapshot entries to replace, sorted by ID (bbolt appends sorted keys
	// cheaply; random ones split pages all over the file).
	Entries []TaskEntryUpdate
	// Drop are snapshot entries (expired tombstones) to remove.
	Drop []string
	// Events are appended to the outbox in this order; the store assigns their Seq.
	Events []OutboxEvent
	// Meta replaces the stored Meta.
	Meta StateMeta
	// DropLegacyOutbox removes an older version's outbox (its events are in Events).
	DropLegacyOutbox bool
	// More says that more commits of the same listing follow (a chunk of a large one):
	// a store may keep the entries of new tasks aside (state.Store's runs) until it merges
	// them: at the Poller's request once it is idle, or before a commit that writes a
	// known task or drops entries.
	More bool
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
	Op Op
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

// ErrBadEntry means bytes are not an encoded TaskEntry of any known layout.
var ErrBadEntry = errors.New("not an encoded snapshot entry")

// Encoded snapshot entries are fixed-size binary behind a leading version byte, so the
// layout can change: v1 (raw hash, 32-byte content hash, change number, flags), v2 (raw
// hash, 8-byte content fingerprint, change number, flags, deleted-at). Every store writes v2.
const (
	entryV1Size = 1 + 8 + 32 + 8 + 1
	entryV2Size = 1 + 8 + 8 + 8 + 1 + 8
	flagDeleted = 1 << 0
	flagSuspect = 1 << 1
	entryV1     = 1
	entryV2     = 2
)

// AppendEntry appends e's encoding (v2) to b; every state store stores entries this way.
func AppendEntry(b []byte, e TaskEntry) []byte {
	var flags byte
	if e.Deleted {
		flags |= flagDeleted
	}
	if e.Suspect {
		flags |= flagSuspect
	}
	b = append(b, entryV2)
	b = binary.BigEndian.AppendUint64(b, e.RawHash)
	b = binary.BigEndian.AppendUint64(b, e.Content)
	b = binary.BigEndian.AppendUint64(b, e.ChangeNo)
	b = append(b, flags)
	return binary.BigEndian.AppendUint64(b, uint64(e.DeletedAt))
}

// DecodeEntry reads an entry AppendEntry wrote (or the older v1 layout).
func DecodeEntry(b []byte) (TaskEntry, error) {
	var e TaskEntry
	switch {
	case len(b) == entryV2Size && b[0] == entryV2:
		e.RawHash = binary.BigEndian.Uint64(b[1:])
		e.Content = binary.BigEndian.Uint64(b[9:])
		e.ChangeNo = binary.BigEndian.Uint64(b[17:])
		e.Deleted = b[25]&flagDeleted != 0
		e.Suspect = b[25]&flagSuspect != 0
		e.DeletedAt = int64(binary.BigEndian.Uint64(b[26:]))
	case len(b) == entryV1Size && b[0] == entryV1:
		// The fingerprint is the first 8 bytes of the SHA-256 v1 kept whole.
		e.RawHash = binary.BigEndian.Uint64(b[1:])
		e.Content = binary.BigEndian.Uint64(b[9:])
		e.ChangeNo = binary.BigEndian.Uint64(b[41:])
		e.Deleted = b[49]&flagDeleted != 0
		e.Suspect = b[49]&flagSuspect != 0
	default:
		return TaskEntry{}, ErrBadEntry
	}
	return e, nil
}
