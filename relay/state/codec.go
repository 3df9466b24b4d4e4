package state

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/reten/reten-relay/relay/tasks"
	"github.com/reten/reten-relay/schema"
)

// Snapshot entries are fixed-size binary: raw hash, content hash, change number, flags.
const (
	entrySize     = 8 + 32 + 8 + 1
	flagDeleted   = 1 << 0
	flagSuspect   = 1 << 1
	entryVersion1 = 1 // leading byte, so the layout can change later
)

func encodeEntry(e tasks.Entry) []byte {
	b := make([]byte, 1+entrySize)
	b[0] = entryVersion1
	binary.BigEndian.PutUint64(b[1:], e.RawHash)
	copy(b[9:41], e.ContentHash[:])
	binary.BigEndian.PutUint64(b[41:], e.ChangeNo)
	if e.Deleted {
		b[49] |= flagDeleted
	}
	if e.Suspect {
		b[49] |= flagSuspect
	}
	return b
}

func decodeEntry(b []byte) (tasks.Entry, error) {
	if len(b) != 1+entrySize || b[0] != entryVersion1 {
		return tasks.Entry{}, ErrCorrupt
	}
	var e tasks.Entry
	e.RawHash = binary.BigEndian.Uint64(b[1:])
	copy(e.ContentHash[:], b[9:41])
	e.ChangeNo = binary.BigEndian.Uint64(b[41:])
	e.Deleted = b[49]&flagDeleted != 0
	e.Suspect = b[49]&flagSuspect != 0
	return e, nil
}

func seqKey(seq uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, seq) // big endian keeps bbolt's byte order = sequence order
	return k
}

// Outbox records: three length-prefixed strings (task id, event id, op), then the body.
func encodeOutbox(ev tasks.OutboxEvent) []byte {
	b := make([]byte, 0, 3*binary.MaxVarintLen64+len(ev.TaskID)+len(ev.EventID)+len(ev.Op)+len(ev.Body))
	for _, s := range []string{ev.TaskID, ev.EventID, string(ev.Op)} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return append(b, ev.Body...)
}

func decodeOutbox(b []byte) (tasks.OutboxEvent, error) {
	var f [3]string
	for i := range f {
		n, w := binary.Uvarint(b)
		if w <= 0 || uint64(len(b)-w) < n {
			return tasks.OutboxEvent{}, ErrCorrupt
		}
		f[i] = string(b[w : w+int(n)])
		b = b[w+int(n):]
	}
	return tasks.OutboxEvent{TaskID: f[0], EventID: f[1], Op: schema.Op(f[2]), Body: append([]byte(nil), b...)}, nil
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
