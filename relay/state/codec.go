package state

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/reten/reten-relay/relay/tasks"
	"github.com/reten/reten-relay/schema"
)

// entrySize is the length of schema.AppendEntry's encoding.
const entrySize = 34

// Snapshot records: the entry (schema.AppendEntry), then, when the task's published JSON
// is in bucket versions, that version's sequence (8 bytes, big endian). Records written
// before versions are the entry alone (their JSON is in bucket published).
func encodeSnap(e tasks.Entry, ver uint64) []byte {
	b := schema.AppendEntry(make([]byte, 0, entrySize+8), e)
	if ver == 0 {
		return b
	}
	return binary.BigEndian.AppendUint64(b, ver)
}

func decodeSnap(b []byte) (tasks.Entry, uint64, error) {
	var ver uint64
	if len(b) == entrySize+8 {
		ver, b = binary.BigEndian.Uint64(b[entrySize:]), b[:entrySize]
	}
	e, err := schema.DecodeEntry(b)
	if err != nil {
		return tasks.Entry{}, 0, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return e, ver, nil
}

func seqKey(seq uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, seq) // big endian keeps bbolt's byte order = sequence order
	return k
}

func posKey(p tasks.QueuePos) []byte {
	k := make([]byte, 10)
	binary.BigEndian.PutUint64(k, p.Seq)
	binary.BigEndian.PutUint16(k[8:], p.N)
	return k
}

func decodePos(k []byte) (tasks.QueuePos, bool) {
	if len(k) != 10 {
		return tasks.QueuePos{}, false
	}
	return tasks.QueuePos{Seq: binary.BigEndian.Uint64(k), N: binary.BigEndian.Uint16(k[8:])}, true
}

// appendStrings writes length-prefixed strings.
func appendStrings(b []byte, ss ...string) []byte {
	for _, s := range ss {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

// readStrings reads n length-prefixed strings and returns the rest.
func readStrings(b []byte, out []string) ([]byte, error) {
	for i := range out {
		n, w := binary.Uvarint(b)
		if w <= 0 || uint64(len(b)-w) < n {
			return nil, ErrCorrupt
		}
		out[i] = string(b[w : w+int(n)])
		b = b[w+int(n):]
	}
	return b, nil
}

// Event records: task id, event id, op, source, then the body.
func encodeEvent(ev tasks.OutboxEvent) []byte {
	h := ev.Head
	b := make([]byte, 0, 4*binary.MaxVarintLen64+len(h.TaskID)+len(h.EventID)+len(h.Op)+len(h.Source)+len(ev.Body))
	b = appendStrings(b, h.TaskID, h.EventID, string(h.Op), h.Source)
	return append(b, ev.Body...)
}

// decodeEvent returns the head and the body, which aliases b.
func decodeEvent(b []byte) (tasks.EventHead, []byte, error) {
	var f [4]string
	rest, err := readStrings(b, f[:])
	if err != nil {
		return tasks.EventHead{}, nil, err
	}
	return tasks.EventHead{TaskID: f[0], EventID: f[1], Op: schema.Op(f[2]), Source: f[3]}, rest, nil
}

// Queue records: route, destination, key, a flag byte, then the message's own body when
// the flag is 1.
func encodeTarget(t tasks.QueuedTarget) []byte {
	b := appendStrings(make([]byte, 0, 64+len(t.Body)), t.Route, t.Destination, t.Key)
	if t.Body == nil {
		return append(b, 0)
	}
	return append(append(b, 1), t.Body...)
}

// decodeTarget returns the target; its Body aliases b.
func decodeTarget(sink string, b []byte) (tasks.QueuedTarget, error) {
	var f [3]string
	rest, err := readStrings(b, f[:])
	if err != nil || len(rest) == 0 {
		return tasks.QueuedTarget{}, ErrCorrupt
	}
	t := tasks.QueuedTarget{Route: f[0], Sink: sink, Destination: f[1], Key: f[2]}
	if rest[0] == 1 {
		t.Body = rest[1:]
	}
	return t, nil
}

type metaJSON struct {
	Synced      bool `json:"synced"`
	GuardCycles int  `json:"guard_cycles"`
}

func encodeMeta(m tasks.Meta) []byte {
	b, _ := json.Marshal(metaJSON(m)) // cannot fail: bool and int
	return b
}

func decodeMeta(b []byte) (tasks.Meta, error) {
	var m metaJSON
	if err := json.Unmarshal(b, &m); err != nil {
		return tasks.Meta{}, fmt.Errorf("decode meta: %w: %w", ErrCorrupt, err)
	}
	return tasks.Meta(m), nil
}
