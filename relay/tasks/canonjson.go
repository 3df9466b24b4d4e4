package tasks

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"slices"
	"unicode/utf8"
)

// errBadJSON: canonical was given something that is not one JSON value.
var errBadJSON = errors.New("invalid json")

// canonWriter writes the canonical form of JSON in one pass, without building a map: the
// members of each object are written to a scratch buffer, then copied out sorted by key.
// The output is what encoding/json makes of the value decoded into `any` with UseNumber
// and re-encoded without HTML escaping, so fingerprints stored by earlier versions stay valid.
type canonWriter struct {
	in      []byte
	pos     int
	members []member // a stack: each object uses the part above its base
	tmp     []byte   // reused while an object's members are put in order
	keys    []byte   // decoded keys that had escapes
	// order is the sorted order of the last top-level object's members, for a writer used
	// again: the tasks of a listing have the same keys in the same order, and sorting
	// them was a third of the hash.
	order   keyOrder
	sig     []byte   // the keys of the object being written, as keyOrder.keys
	scratch []member // reused while members are permuted
}

// keyOrder is the stable sorted order (perm: indexes into the members in input order) of
// an object whose keys, in input order and each preceded by its length, were keys.
type keyOrder struct {
	keys []byte
	perm []int32
}

func (c *canonWriter) skipSpace() {
	for c.pos < len(c.in) {
		switch c.in[c.pos] {
		case ' ', '\t', '\n', '\r':
			c.pos++
		default:
			return
		}
	}
}

// value appends the canonical form of the value at c.pos to out.
func (c *canonWriter) value(out []byte, depth int) ([]byte, error) {
	if depth > 10000 { // encoding/json's own nesting limit
		return nil, errBadJSON
	}
	c.skipSpace()
	if c.pos >= len(c.in) {
		return nil, errBadJSON
	}
	switch ch := c.in[c.pos]; {
	case ch == '{':
		return c.object(out, depth)
	case ch == '[':
		return c.array(out, depth)
	case ch == '"':
		return c.stringValue(out)
	case ch == 't':
		return c.literal(out, "true")
	case ch == 'f':
		return c.literal(out, "false")
	case ch == 'n':
		return c.literal(out, "null")
	default:
		return c.number(out)
	}
}

func (c *canonWriter) literal(out []byte, lit string) ([]byte, error) {
	if !bytes.HasPrefix(c.in[c.pos:], []byte(lit)) {
		return nil, errBadJSON
	}
	c.pos += len(lit)
	return append(out, lit...), nil
}

// number copies a number as written (UseNumber keeps the literal), checking its syntax.
func (c *canonWriter) number(out []byte) ([]byte, error) {
	start := c.pos
	for c.pos < len(c.in) {
		ch := c.in[c.pos]
		if (ch >= '0' && ch <= '9') || ch == '-' || ch == '+' || ch == '.' || ch == 'e' || ch == 'E' {
			c.pos++
			continue
		}
		break
	}
	lit := c.in[start:c.pos]
	if len(lit) == 0 || !validNumber(lit) {
		return nil, errBadJSON
	}
	return append(out, lit...), nil
}

func (c *canonWriter) array(out []byte, depth int) ([]byte, error) {
	c.pos++ // [
	out = append(out, '[')
	c.skipSpace()
	if c.pos < len(c.in) && c.in[c.pos] == ']' {
		c.pos++
		return append(out, ']'), nil
	}
	for {
		var err error
		if out, err = c.value(out, depth+1); err != nil {
			return nil, err
		}
		c.skipSpace()
		if c.pos >= len(c.in) {
			return nil, errBadJSON
		}
		switch c.in[c.pos] {
		case ',':
			c.pos++
			out = append(out, ',')
		case ']':
			c.pos++
			return append(out, ']'), nil
		default:
			return nil, errBadJSON
		}
	}
}

// member is one object member: where its decoded key lies (in the input, or in keys when
// it had escapes) and where its canonical value lies in the output. No pointers: sorting
// members costs no write barriers.
type member struct {
	ks, ke     int32
	escaped    bool
	start, end int
}

func (c *canonWriter) key(m member) []byte {
	if m.escaped {
		return c.keys[m.ks:m.ke]
	}
	return c.in[m.ks:m.ke]
}

func (c *canonWriter) object(out []byte, depth int) ([]byte, error) {
	c.pos++ // {
	out = append(out, '{')
	c.skipSpace()
	if c.pos < len(c.in) && c.in[c.pos] == '}' {
		c.pos++
		return append(out, '}'), nil
	}
	base, mbase := len(out), len(c.members)
	for {
		c.skipSpace()
		if c.pos >= len(c.in) || c.in[c.pos] != '"' {
			return nil, errBadJSON
		}
		keyStart := c.pos + 1
		key, err := c.str()
		if err != nil {
			return nil, err
		}
		m := member{ks: int32(keyStart), ke: int32(keyStart + len(key))}
		if c.pos != int(m.ke)+1 { // decoded: keep a copy
			m.escaped, m.ks = true, int32(len(c.keys))
			c.keys = append(c.keys, key...)
			m.ke = int32(len(c.keys))
		}
		c.skipSpace()
		if c.pos >= len(c.in) || c.in[c.pos] != ':' {
			return nil, errBadJSON
		}
		c.pos++
		start := len(out)
		if out, err = c.value(out, depth+1); err != nil {
			return nil, err
		}
		m.start, m.end = start-base, len(out)-base
		c.members = append(c.members, m)
		c.skipSpace()
		if c.pos >= len(c.in) {
			return nil, errBadJSON
		}
		if c.in[c.pos] == '}' {
			c.pos++
			break
		}
		if c.in[c.pos] != ',' {
			return nil, errBadJSON
		}
		c.pos++
	}
	ms := c.members[mbase:]
	// A key given twice keeps its last value, as decoding into a map does.
	if depth == 0 {
		c.sortCached(ms)
	} else {
		slices.SortStableFunc(ms, func(a, b member) int { return bytes.Compare(c.key(a), c.key(b)) })
	}
	c.tmp = append(c.tmp[:0], out[base:]...)
	out = out[:base]
	first := true
	for i, m := range ms {
		if i+1 < len(ms) && bytes.Equal(c.key(ms[i+1]), c.key(m)) {
			continue
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = appendString(out, c.key(m))
		out = append(out, ':')
		out = append(out, c.tmp[m.start:m.end]...)
	}
	c.members = c.members[:mbase]
	return append(out, '}'), nil
}

// sortCached sorts ms stably by key as object does, reusing the order of the last object
// sorted here when its keys came in the same order.
func (c *canonWriter) sortCached(ms []member) {
	c.sig = c.sig[:0]
	for _, m := range ms {
		k := c.key(m)
		c.sig = binary.AppendUvarint(c.sig, uint64(len(k)))
		c.sig = append(c.sig, k...)
	}
	if len(c.order.perm) != len(ms) || !bytes.Equal(c.sig, c.order.keys) {
		perm := c.order.perm[:0]
		for i := range ms {
			perm = append(perm, int32(i))
		}
		slices.SortStableFunc(perm, func(a, b int32) int { return bytes.Compare(c.key(ms[a]), c.key(ms[b])) })
		c.order.perm = perm
		c.order.keys = append(c.order.keys[:0], c.sig...)
	}
	c.scratch = append(c.scratch[:0], ms...)
	for i, j := range c.order.perm {
		ms[i] = c.scratch[j]
	}
}

// stringValue copies a string that needs no re-escaping as it is, and re-escapes the rest.
func (c *canonWriter) stringValue(out []byte) ([]byte, error) {
	start := c.pos
	ascii := true
	for i := start + 1; i < len(c.in); i++ {
		switch ch := c.in[i]; {
		case ch == '"':
			body := c.in[start+1 : i]
			if ascii || (utf8.Valid(body) && !bytes.Contains(body, lineSep) && !bytes.Contains(body, paraSep)) {
				c.pos = i + 1
				return append(out, c.in[start:i+1]...), nil
			}
			i = len(c.in) // re-escape below
		case ch == '\\' || ch < 0x20:
			i = len(c.in)
		case ch >= utf8.RuneSelf:
			ascii = false
		}
	}
	s, err := c.str()
	if err != nil {
		return nil, err
	}
	return appendString(out, s), nil
}

// U+2028 and U+2029 in UTF-8: encoding/json escapes them.
var lineSep, paraSep = []byte("\u2028"), []byte("\u2029")

// str decodes the string at c.pos. Strings without escapes come straight from the input.
func (c *canonWriter) str() ([]byte, error) {
	start := c.pos
	i := start + 1
	for i < len(c.in) {
		switch ch := c.in[i]; {
		case ch == '"':
			c.pos = i + 1
			return c.in[start+1 : i], nil
		case ch == '\\':
			return c.slowStr(start)
		case ch < 0x20:
			return nil, errBadJSON
		}
		i++
	}
	return nil, errBadJSON
}

// slowStr decodes a string with escapes through encoding/json.
func (c *canonWriter) slowStr(start int) ([]byte, error) {
	i := start + 1
	for i < len(c.in) && c.in[i] != '"' {
		if c.in[i] == '\\' {
			i++
		}
		i++
	}
	if i >= len(c.in) {
		return nil, errBadJSON
	}
	var s string
	if err := json.Unmarshal(c.in[start:i+1], &s); err != nil {
		return nil, errBadJSON
	}
	c.pos = i + 1
	return []byte(s), nil
}
