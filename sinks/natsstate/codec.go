package natsstate

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/klauspost/compress/s2"

	"github.com/reten/reten-relay/schema"
)

// Key prefixes and fixed keys.
const (
	keyEntry     = "t."
	keyPublished = "p."
	keyQueue     = "q."
	keyMeta      = "meta"
	keyLease     = "lease"
)

// taskKey makes a task id a KV key token. Ids of letters, digits, - and _ (Reten's UUIDs)
// are used as they are; anything else is base64url behind "=", which no plain id starts
// with, so two ids never share a key.
func taskKey(id string) string {
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "=" + base64.RawURLEncoding.EncodeToString([]byte(id))
		}
	}
	if id == "" {
		return "="
	}
	return id
}

func taskID(key string) (string, error) {
	if !strings.HasPrefix(key, "=") {
		return key, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(key[1:])
	if err != nil {
		return "", fmt.Errorf("task key %q: %w", key, ErrCorrupt)
	}
	return string(b), nil
}

// queueKey is q.<sink>.<seq as 16 hex digits>.<messages>: the message count in the key
// lets Pending count from the stream's subject list without reading a record.
func queueKey(sink string, seq uint64, n int) string {
	return fmt.Sprintf("%s%s.%016x.%d", keyQueue, sink, seq, n)
}

func parseQueueKey(key string) (sink string, seq uint64, n int, err error) {
	parts := strings.Split(strings.TrimPrefix(key, keyQueue), ".")
	if len(parts) != 3 {
		return "", 0, 0, fmt.Errorf("queue key %q: %w", key, ErrCorrupt)
	}
	seq, err1 := strconv.ParseUint(parts[1], 16, 64)
	n64, err2 := strconv.ParseUint(parts[2], 10, 16)
	if err1 != nil || err2 != nil {
		return "", 0, 0, fmt.Errorf("queue key %q: %w", key, ErrCorrupt)
	}
	return parts[0], seq, int(n64), nil
}

// Values that may be large (published JSON, queued events) start with a flag byte: raw,
// or s2-compressed above compressAbove, so a task of more than a megabyte still fits in
// one KV message (JSON compresses several times over).
const (
	valueRaw      = 0
	valueS2       = 1
	compressAbove = 16 << 10
)

func packValue(b []byte) []byte {
	if len(b) > compressAbove {
		if c := s2.Encode(nil, b); len(c) < len(b) {
			return append([]byte{valueS2}, c...)
		}
	}
	return append([]byte{valueRaw}, b...)
}

func unpackValue(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, ErrCorrupt
	}
	switch b[0] {
	case valueRaw:
		return b[1:], nil
	case valueS2:
		out, err := s2.Decode(nil, b[1:])
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		return out, nil
	}
	return nil, ErrCorrupt
}

func encodeEntry(e schema.TaskEntry) []byte { return schema.AppendEntry(nil, e) }

func decodeEntry(b []byte) (schema.TaskEntry, error) {
	e, err := schema.DecodeEntry(b)
	if err != nil {
		return schema.TaskEntry{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return e, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func readBytes(b []byte) ([]byte, []byte, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || uint64(len(b)-w) < n {
		return nil, nil, ErrCorrupt
	}
	return b[w : w+int(n)], b[w+int(n):], nil
}

// A queue record is one event's messages for one sink: the head, the targets (each with
// its own body or none), and the event's body once when a target uses it.
func encodeQueued(h schema.EventHead, body []byte, targets []indexedTarget) []byte {
	b := make([]byte, 0, 128+len(body))
	for _, s := range []string{h.TaskID, h.EventID, string(h.Op), h.Source} {
		b = appendString(b, s)
	}
	shared := false
	b = binary.AppendUvarint(b, uint64(len(targets)))
	for _, t := range targets {
		b = binary.AppendUvarint(b, uint64(t.n))
		for _, s := range []string{t.Route, t.Destination, t.Key} {
			b = appendString(b, s)
		}
		if t.Body != nil {
			b = append(b, 1)
			b = appendString(b, string(t.Body))
		} else {
			b = append(b, 0)
			shared = true
		}
	}
	if shared {
		b = append(b, body...)
	}
	return packValue(b)
}

// indexedTarget is a target and its index among all of the event's targets.
type indexedTarget struct {
	schema.QueuedTarget
	n uint16
}

func decodeQueued(sink string, seq uint64, v []byte) ([]schema.Queued, error) {
	b, err := unpackValue(v)
	if err != nil {
		return nil, err
	}
	var f [4][]byte
	for i := range f {
		if f[i], b, err = readBytes(b); err != nil {
			return nil, err
		}
	}
	head := schema.EventHead{TaskID: string(f[0]), EventID: string(f[1]), Op: schema.Op(f[2]), Source: string(f[3])}
	count, w := binary.Uvarint(b)
	if w <= 0 || count > 1<<16 {
		return nil, ErrCorrupt
	}
	b = b[w:]
	out := make([]schema.Queued, 0, count)
	for range count {
		n, w := binary.Uvarint(b)
		if w <= 0 || n >= 1<<16 {
			return nil, ErrCorrupt
		}
		b = b[w:]
		var s [3][]byte
		for i := range s {
			if s[i], b, err = readBytes(b); err != nil {
				return nil, err
			}
		}
		if len(b) == 0 {
			return nil, ErrCorrupt
		}
		t := schema.QueuedTarget{Route: string(s[0]), Sink: sink, Destination: string(s[1]), Key: string(s[2])}
		own := b[0] == 1
		b = b[1:]
		if own {
			if t.Body, b, err = readBytes(b); err != nil {
				return nil, err
			}
		}
		out = append(out, schema.Queued{Pos: schema.QueuePos{Seq: seq, N: uint16(n)}, Head: head, Target: t, Body: t.Body})
	}
	for i := range out {
		if out[i].Body == nil {
			out[i].Body = b // the shared body: what is left
		}
	}
	return out, nil
}

type metaJSON struct {
	Synced      bool   `json:"synced"`
	GuardCycles int    `json:"guard_cycles"`
	NextSeq     uint64 `json:"next_seq"`
}

func encodeMeta(m schema.StateMeta, next uint64) []byte {
	b, _ := json.Marshal(metaJSON{Synced: m.Synced, GuardCycles: m.GuardCycles, NextSeq: next}) // cannot fail
	return b
}

func decodeMeta(b []byte) (schema.StateMeta, uint64, error) {
	var m metaJSON
	if err := json.Unmarshal(b, &m); err != nil {
		return schema.StateMeta{}, 0, fmt.Errorf("decode meta: %w: %w", ErrCorrupt, err)
	}
	return schema.StateMeta{Synced: m.Synced, GuardCycles: m.GuardCycles}, m.NextSeq, nil
}
