package routing

import (
	"encoding/json"
	"unicode/utf8"
)

// fieldNames are the JSON names of taskFields, in its order.
var fieldNames = [...]string{"type", "status", "channel", "lifecycleStatus", "activityOrigin", "commerceExternalId"}

// scanFields fills tf from the top level of the JSON object raw in one pass, as
// json.Unmarshal(raw, tf) would: keys match case-insensitively, the last duplicate wins,
// nested values are validated and skipped. It runs for every event, where json.Unmarshal
// costs a validation pass, a decode pass and a copy of each field. It reports false
// (tf untouched) when it cannot decide exactly as encoding/json would: a key with an
// escape or a non-ASCII byte (Unicode case folding), or raw not a valid JSON object;
// the caller then decodes with encoding/json.
func scanFields(raw []byte, tf *taskFields) bool {
	s := jsonScan{b: raw}
	var got [len(fieldNames)]json.RawMessage
	s.space()
	if !s.byte('{') {
		return false
	}
	s.space()
	if !s.byte('}') {
		for {
			s.space()
			ks := s.pos
			if !s.str() {
				return false
			}
			key, ascii := raw[ks+1:s.pos-1], true
			for _, c := range key {
				ascii = ascii && c < utf8.RuneSelf && c != '\\'
			}
			if !ascii {
				return false
			}
			s.space()
			if !s.byte(':') {
				return false
			}
			s.space()
			vs := s.pos
			if !s.value(0) {
				return false
			}
			for i, name := range fieldNames {
				if equalFoldASCII(key, name) {
					got[i] = raw[vs:s.pos]
				}
			}
			s.space()
			if s.byte('}') {
				break
			}
			if !s.byte(',') {
				return false
			}
		}
	}
	if s.space(); s.pos != len(raw) {
		return false
	}
	tf.Type, tf.Status, tf.Channel = got[0], got[1], got[2]
	tf.LifecycleStatus, tf.ActivityOrigin, tf.CommerceExternalID = got[3], got[4], got[5]
	return true
}

func equalFoldASCII(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c, d := b[i], s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if d >= 'A' && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}

// jsonScan validates and skips JSON values by the grammar encoding/json checks.
type jsonScan struct {
	b   []byte
	pos int
}

func (s *jsonScan) space() {
	for s.pos < len(s.b) {
		switch s.b[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *jsonScan) byte(c byte) bool {
	if s.pos < len(s.b) && s.b[s.pos] == c {
		s.pos++
		return true
	}
	return false
}

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

func (s *jsonScan) value(depth int) bool {
	if depth > maxDepth || s.pos >= len(s.b) {
		return false
	}
	switch c := s.b[s.pos]; {
	case c == '"':
		return s.str()
	case c == '{':
		s.pos++
		s.space()
		if s.byte('}') {
			return true
		}
		for {
			s.space()
			if !s.str() {
				return false
			}
			s.space()
			if !s.byte(':') {
				return false
			}
			s.space()
			if !s.value(depth + 1) {
				return false
			}
			s.space()
			if s.byte('}') {
				return true
			}
			if !s.byte(',') {
				return false
			}
		}
	case c == '[':
		s.pos++
		s.space()
		if s.byte(']') {
			return true
		}
		for {
			s.space()
			if !s.value(depth + 1) {
				return false
			}
			s.space()
			if s.byte(']') {
				return true
			}
			if !s.byte(',') {
				return false
			}
		}
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	default:
		return s.number()
	}
}

func (s *jsonScan) literal(lit string) bool {
	if len(s.b)-s.pos < len(lit) || string(s.b[s.pos:s.pos+len(lit)]) != lit {
		return false
	}
	s.pos += len(lit)
	return true
}

// str skips a string: no control characters, only JSON's escapes (invalid UTF-8 is
// allowed: encoding/json replaces it).
func (s *jsonScan) str() bool {
	if !s.byte('"') {
		return false
	}
	for s.pos < len(s.b) {
		c := s.b[s.pos]
		s.pos++
		switch {
		case c == '"':
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if s.pos >= len(s.b) {
				return false
			}
			e := s.b[s.pos]
			s.pos++
			switch e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(s.b)-s.pos < 4 {
					return false
				}
				for _, h := range s.b[s.pos : s.pos+4] {
					if !isHex(h) {
						return false
					}
				}
				s.pos += 4
			default:
				return false
			}
		}
	}
	return false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// number skips -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *jsonScan) number() bool {
	s.byte('-')
	switch {
	case s.byte('0'):
	case s.pos < len(s.b) && s.b[s.pos] >= '1' && s.b[s.pos] <= '9':
		s.digits()
	default:
		return false
	}
	if s.byte('.') && !s.digits() {
		return false
	}
	if s.byte('e') || s.byte('E') {
		if !s.byte('+') {
			s.byte('-')
		}
		if !s.digits() {
			return false
		}
	}
	return true
}

// digits skips [0-9]* and reports whether there was one.
func (s *jsonScan) digits() bool {
	start := s.pos
	for s.pos < len(s.b) && s.b[s.pos] >= '0' && s.b[s.pos] <= '9' {
		s.pos++
	}
	return s.pos > start
}
