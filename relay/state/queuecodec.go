package state

import (
	"bytes"
	"encoding/binary"

	"github.com/reten/reten-relay/relay/tasks"
	"github.com/reten/reten-relay/schema"
)

// Event records are the event's body alone; the head is in its queue records, which say
// so (targetFate). Event records written before hold the task id, event id, op and
// source first (decodeEvent), and their queue records have no targetFate.

// taskIn returns where the task's JSON sits in ev's body, if it is there byte for byte: the
// body tasks.encodeEvent wrote, whose first `,"task":` is data.task (a quote inside an
// earlier string value is escaped).
func taskIn(ev tasks.OutboxEvent, task []byte) (off, n uint32, ok bool) {
	if len(task) == 0 {
		return 0, 0, false
	}
	// The tasks pipeline hands over the task's JSON as a slice of the body itself (up to
	// the body's capacity): then its place follows from the capacities, without searching
	// or comparing a kilobyte of each task.
	if k := cap(ev.Body) - cap(task); k >= 0 && k+len(task) <= len(ev.Body) && &ev.Body[k] == &task[0] {
		return uint32(k), uint32(len(task)), true
	}
	i := bytes.Index(ev.Body, []byte(`,"task":`))
	if i < 0 || !bytes.HasPrefix(ev.Body[i+8:], task) {
		return 0, 0, false
	}
	return uint32(i + 8), uint32(len(task)), true
}

// eventTaskID returns the task id of an event record written before targetFate, without
// copying it.
func eventTaskID(b []byte) ([]byte, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || uint64(len(b)-w) < n {
		return nil, ErrCorrupt
	}
	return b[w : w+int(n)], nil
}

// decodeEvent returns the head and the body, which aliases b, of an event record written
// before targetFate. Its op and source come from in.
func decodeEvent(b []byte, in interner) (tasks.EventHead, []byte, error) {
	var f [4]string
	rest, err := readStringsIn(b, f[:], in, 1<<2|1<<3)
	if err != nil {
		return tasks.EventHead{}, nil, err
	}
	return tasks.EventHead{TaskID: f[0], EventID: f[1], Op: schema.Op(f[2]), Source: f[3]}, rest, nil
}

// Queue records (appendTarget): route, destination, key, a flag byte; with targetFate the
// event's task id, event id, op and source; then the message's own body when the flags
// have targetOwnBody. Records written before the other flags have none of them.

// targetSize is room enough for a queue record of t and h.
func targetSize(t tasks.QueuedTarget, h tasks.EventHead) int {
	return 7*binary.MaxVarintLen64 + 1 + len(t.Route) + len(t.Destination) + len(t.Key) +
		len(h.TaskID) + len(h.EventID) + len(h.Op) + len(h.Source) + len(t.Body)
}

// appendTarget appends the queue record of t, h and flags to b.
func appendTarget(b []byte, t tasks.QueuedTarget, h tasks.EventHead, flags byte) []byte {
	b = appendStrings(b, t.Route, t.Destination, t.Key)
	if t.Body != nil {
		flags |= targetOwnBody
	}
	b = append(b, flags)
	if flags&targetFate != 0 {
		b = appendStrings(b, h.TaskID, h.EventID, string(h.Op), h.Source)
	}
	return append(b, t.Body...)
}

// The flags of a queue record.
const (
	// targetOwnBody: the message's own (trimmed) body ends the record.
	targetOwnBody = 1 << 0
	// targetFate: the record holds its event's head, its event record is the body alone,
	// and it says what becomes of the event once no queue holds it (targetKeep or not),
	// so Ack need not look its task up in the snapshot. Records written before it do not,
	// and Ack looks (retire).
	targetFate = 1 << 1
	// targetKeep: the event holds its task's published JSON (the snapshot points into it)
	// and stays once confirmed; without it the event is deleted. A commit that points the
	// snapshot elsewhere while the event is still queued clears it (unkeep).
	targetKeep = 1 << 2
	// targetOnly: the record is its event's only message, so once it is removed no queue
	// holds the event and Ack need not look in every queue.
	targetOnly = 1 << 3
)

// targetFlags returns the flag byte of a queue record.
func targetFlags(b []byte) (byte, error) {
	i, err := flagsAt(b)
	if err != nil {
		return 0, err
	}
	return b[i], nil
}

// flagsAt returns where the flag byte of a queue record is.
func flagsAt(b []byte) (int, error) {
	i := 0
	for range 3 {
		n, w := binary.Uvarint(b[i:])
		if w <= 0 || uint64(len(b)-i-w) < n {
			return 0, ErrCorrupt
		}
		i += w + int(n)
	}
	if i >= len(b) {
		return 0, ErrCorrupt
	}
	return i, nil
}

// clearKeep clears targetKeep in queue record b, in place.
func clearKeep(b []byte) []byte {
	if i, err := flagsAt(b); err == nil {
		b[i] &^= targetKeep
	}
	return b
}

// decodeTarget returns the target and, for a record with targetFate (ok), its event's
// head; the target's Body aliases b. Its route, destination, op and source come from in.
func decodeTarget(sink string, b []byte, in interner) (t tasks.QueuedTarget, h tasks.EventHead, ok bool, err error) {
	var f [3]string
	rest, err := readStringsIn(b, f[:], in, 1<<0|1<<1)
	if err != nil || len(rest) == 0 {
		return tasks.QueuedTarget{}, tasks.EventHead{}, false, ErrCorrupt
	}
	t = tasks.QueuedTarget{Route: f[0], Sink: sink, Destination: f[1], Key: f[2]}
	flags := rest[0]
	rest = rest[1:]
	if flags&targetFate != 0 {
		var hf [4]string
		if rest, err = readStringsIn(rest, hf[:], in, 1<<2|1<<3); err != nil {
			return tasks.QueuedTarget{}, tasks.EventHead{}, false, err
		}
		h, ok = tasks.EventHead{TaskID: hf[0], EventID: hf[1], Op: schema.Op(hf[2]), Source: hf[3]}, true
	}
	if flags&targetOwnBody != 0 {
		t.Body = rest
	}
	return t, h, ok, nil
}
