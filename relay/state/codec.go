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

// verRef says where a live task's published JSON is: nowhere known (seq 0: in bucket
// published, written before versions, or none), in bucket versions under seq, or inside
// the record of outbox event seq, at [off, off+n) (inEvent): an event that carries the
// task's JSON is kept after its sinks confirmed it for as long as it is the task's
// latest version, so a first sync writes each task's JSON once.
type verRef struct {
	seq     uint64
	inEvent bool
	off, n  uint32
}

// Snapshot records: the entry (schema.AppendEntry, 34 bytes), then the verRef: nothing
// (seq 0), a versions sequence (8 bytes), or an event sequence, offset and length (16
// bytes). Records written before versions are the entry alone. An older v1 entry is 50
// bytes too but starts with 1; an entry of this layout starts with 2.
func encodeSnap(e tasks.Entry, ref verRef) []byte {
	return appendSnap(make([]byte, 0, snapSize), e, ref)
}

// snapSize is the longest snapshot record.
const snapSize = entrySize + 16

// appendSnap appends the snapshot record of e and ref to b.
func appendSnap(b []byte, e tasks.Entry, ref verRef) []byte {
	b = schema.AppendEntry(b, e)
	if ref.seq == 0 {
		return b
	}
	b = binary.BigEndian.AppendUint64(b, ref.seq)
	if ref.inEvent {
		b = binary.BigEndian.AppendUint32(b, ref.off)
		b = binary.BigEndian.AppendUint32(b, ref.n)
	}
	return b
}

func decodeSnap(b []byte) (tasks.Entry, verRef, error) {
	var ref verRef
	if len(b) > entrySize && b[0] == entryV2 {
		switch len(b) {
		case entrySize + 8:
			ref.seq = binary.BigEndian.Uint64(b[entrySize:])
		case entrySize + 16:
			ref = verRef{seq: binary.BigEndian.Uint64(b[entrySize:]), inEvent: true,
				off: binary.BigEndian.Uint32(b[entrySize+8:]), n: binary.BigEndian.Uint32(b[entrySize+12:])}
		default:
			return tasks.Entry{}, verRef{}, ErrCorrupt
		}
		b = b[:entrySize]
	}
	e, err := schema.DecodeEntry(b)
	if err != nil {
		return tasks.Entry{}, verRef{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return e, ref, nil
}

// entryV2 is the first byte of schema.AppendEntry's encoding.
const entryV2 = 2

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
	return readStringsIn(b, out, nil, 0)
}

// readStringsIn is readStrings that takes string i from in when bit i of shared is set.
func readStringsIn(b []byte, out []string, in interner, shared uint) ([]byte, error) {
	for i := range out {
		n, w := binary.Uvarint(b)
		if w <= 0 || uint64(len(b)-w) < n {
			return nil, ErrCorrupt
		}
		if s := b[w : w+int(n)]; shared&(1<<i) != 0 {
			out[i] = in.str(s)
		} else {
			out[i] = string(s)
		}
		b = b[w+int(n):]
	}
	return b, nil
}

// interner gives equal bytes one string: an outbox read of a thousand messages holds a
// handful of ops, sources, routes and destinations, which were allocated per message.
type interner map[string]string

// maxInterned bounds an interner fed with many distinct values (destinations per task).
const maxInterned = 256

func (in interner) str(b []byte) string {
	if s, ok := in[string(b)]; ok { // no allocation for the lookup
		return s
	}
	s := string(b)
	if in != nil && len(in) < maxInterned {
		in[s] = s
	}
	return s
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
