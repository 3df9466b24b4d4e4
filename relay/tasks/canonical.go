package tasks

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/cespare/xxhash/v2"
)

// rawHash is the fast path of the diff: a task whose listed bytes hash the same as last
// time is unchanged, and costs nothing more. A 64-bit hash is enough here because it only
// ever compares one task with its own previous version.
func rawHash(raw []byte) uint64 { return xxhash.Sum64(raw) }

// canonical returns raw in a stable form: objects with sorted keys, no insignificant
// whitespace, strings re-escaped the same way, numbers kept as written. Two listings of
// the same task that differ only in key order or formatting have the same canonical form.
// It is only computed when the raw hash changed.
func canonical(raw []byte) ([]byte, error) {
	var c canonWriter
	return c.canonical(make([]byte, 0, len(raw)), raw)
}

// canonical appends the canonical form of raw to out. A writer used again reuses its
// buffers.
func (c *canonWriter) canonical(out, raw []byte) ([]byte, error) {
	c.in, c.pos, c.members, c.keys = raw, 0, c.members[:0], c.keys[:0]
	out, err := c.value(out, 0)
	if err != nil {
		return nil, fmt.Errorf("decode task json: %w", err)
	}
	if c.skipSpace(); c.pos != len(raw) {
		return nil, fmt.Errorf("decode task json: %w: data after the value", errBadJSON)
	}
	return out, nil
}

// contentHash is the SHA-256 of the canonical form of raw.
func contentHash(raw []byte) ([32]byte, error) {
	var h hasher
	return h.contentHash(raw)
}

// hasher computes content hashes one after another with the same buffers: a walk hashes
// every new task of a first sync, and a fresh writer allocated its output and scratch
// space for each (~5 KB a task).
type hasher struct {
	c   canonWriter
	out []byte
}

// contentHash is the SHA-256 of the canonical form of raw.
func (h *hasher) contentHash(raw []byte) ([32]byte, error) {
	out, err := h.c.canonical(h.out[:0], raw)
	if err != nil {
		return [32]byte{}, err
	}
	h.out = out
	return sha256.Sum256(out), nil
}

// changedFields lists the top-level fields whose canonical values differ between prev
// and cur (present in one only counts too), sorted. Non-object documents yield nil.
func changedFields(prev, cur []byte) []string {
	var a, b map[string]json.RawMessage
	if json.Unmarshal(prev, &a) != nil || json.Unmarshal(cur, &b) != nil {
		return nil
	}
	var out []string
	for k, av := range a {
		bv, ok := b[k]
		if !ok || !sameJSON(av, bv) {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// sameJSON compares two JSON values canonically, trying the cheap byte comparison first.
func sameJSON(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	ca, errA := canonical(a)
	cb, errB := canonical(b)
	return errA == nil && errB == nil && bytes.Equal(ca, cb)
}

// eventID derives the deterministic CloudEvents id of a change: the same change of the same
// task always gets the same id (so brokers drop a re-publish after a crash), and the change
// number makes a later return to the same content a new id.
func eventID(source, taskID string, changeNo uint64, content [32]byte) string {
	// One buffer on the stack and one Sum256: a hash.Hash, its Sum and the conversions of
	// the strings were five allocations per event. The bytes hashed are the same.
	var stack [256]byte
	b := stack[:0]
	// Length prefixes keep (source, id) pairs from colliding by concatenation.
	for _, s := range [...]string{source, taskID} {
		b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.BigEndian.AppendUint64(b, changeNo)
	b = append(b, content[:]...)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}
