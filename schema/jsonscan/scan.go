// Package jsonscan is a validating JSON scanner that finds where values start and end
// without decoding them: the task list is decoded with it in one pass, and result messages
// are checked with it.
package jsonscan

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// Scanner is a validating JSON scanner that only finds where values start and end. The task
// list is decoded with it in one pass: item boundaries, each item's id and the meta block,
// without building maps or copying the items (see reten.DecodePage). It accepts what
// encoding/json accepts, except nesting deeper than its depth limit; like encoding/json it
// lets bad UTF-8 through (encoding/json replaces it rather than failing). The fuzz tests
// hold it to that (FuzzValid here, FuzzDecodePage in sources/reten).
type Scanner struct {
	// Data is the document.
	Data []byte
	// MaxDepth bounds nesting, so a hostile body cannot exhaust the stack; 0 means
	// DefaultMaxDepth.
	MaxDepth int
}

// DefaultMaxDepth is the nesting a Scanner allows unless told otherwise.
const DefaultMaxDepth = 1000

// EncodingJSONMaxDepth is encoding/json's nesting limit: json.Valid rejects deeper
// documents.
const EncodingJSONMaxDepth = 10000

// ErrSyntax is wrapped by every error a Scanner returns.
var ErrSyntax = errors.New("invalid JSON")

// Valid reports what json.Valid reports, in one pass without encoding/json's state machine
// (a function call per byte).
func Valid(doc []byte) bool {
	s := Scanner{Data: doc, MaxDepth: EncodingJSONMaxDepth}
	end, err := s.Value(s.WS(0), 0)
	return err == nil && s.WS(end) == len(doc)
}

// tooDeep reports whether depth is past the limit.
func (s *Scanner) tooDeep(depth int) bool {
	if s.MaxDepth == 0 {
		return depth > DefaultMaxDepth
	}
	return depth > s.MaxDepth
}

// plain marks the bytes a string may hold without a closer look: not '"', '\\' or a
// control character.
var plain = func() (t [256]bool) {
	for i := 0x20; i < 256; i++ {
		t[i] = i != '"' && i != '\\'
	}
	return t
}()

// Syntax is the error for what is wrong at byte i.
func (s *Scanner) Syntax(i int, what string) error {
	return fmt.Errorf("%w at byte %d: %s", ErrSyntax, i, what)
}

// WS returns the index of the first byte at or after i that is not white space.
func (s *Scanner) WS(i int) int {
	d := s.Data
	if i < len(d) && d[i] > ' ' { // compact JSON: the usual case, inlined
		return i
	}
	return s.wsSlow(i)
}

func (s *Scanner) wsSlow(i int) int {
	d := s.Data
	for i < len(d) {
		switch d[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// Value scans the value starting at i (no leading white space) and returns its end.
func (s *Scanner) Value(i, depth int) (int, error) {
	d := s.Data
	if i >= len(d) {
		return i, s.Syntax(i, "unexpected end")
	}
	switch c := d[i]; {
	case c == '"':
		end, _, err := s.Str(i)
		return end, err
	case c == '{':
		return s.Object(i, depth+1, nil)
	case c == '[':
		return s.Array(i, depth+1, nil)
	case c == '-' || c >= '0' && c <= '9':
		return s.Number(i)
	case c == 't':
		return s.Literal(i, "true")
	case c == 'f':
		return s.Literal(i, "false")
	case c == 'n':
		return s.Literal(i, "null")
	}
	return i, s.Syntax(i, fmt.Sprintf("unexpected %q", d[i]))
}

// Literal scans lit (true, false or null) at i.
func (s *Scanner) Literal(i int, lit string) (int, error) {
	if len(s.Data)-i < len(lit) || string(s.Data[i:i+len(lit)]) != lit {
		return i, s.Syntax(i, "bad literal")
	}
	return i + len(lit), nil
}

// Str scans the string starting at the quote at i; escaped tells whether it holds escapes.
func (s *Scanner) Str(i int) (end int, escaped bool, err error) {
	d := s.Data
	i++
	for {
		if i = skipPlain(d, i); i >= len(d) {
			return i, escaped, s.Syntax(i, "unterminated string")
		}
		switch d[i] {
		case '"':
			return i + 1, escaped, nil
		case '\\':
			escaped = true
			if i+1 >= len(d) {
				return i, escaped, s.Syntax(i, "unterminated escape")
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(d)-i < 6 || !hex4(d[i+2:i+6]) {
					return i, escaped, s.Syntax(i, "bad \\u escape")
				}
				i += 6
			default:
				return i, escaped, s.Syntax(i, "bad escape")
			}
		default:
			return i, escaped, s.Syntax(i, "control character in string")
		}
	}
}

// Byte-wise constants of skipPlain.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// skipPlain returns the index of the first byte at or after i that ends a string's plain
// run ('"', '\\' or a control character), or len(d). It tests 8 bytes at a time: most of
// a task's bytes are string contents.
func skipPlain(d []byte, i int) int {
	for ; i+8 <= len(d); i += 8 {
		x := binary.LittleEndian.Uint64(d[i:])
		q := x ^ ('"' * ones)
		b := x ^ ('\\' * ones)
		// (v-1)&^v has a byte's high bit set where v's byte is 0 (or below 0x20 for the
		// control test); borrows only mark bytes after a real match, so the lowest
		// marked byte is always the first real one.
		m := ((q - ones) &^ q) | ((b - ones) &^ b) | ((x - 0x20*ones) &^ x)
		if m &= highs; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for i < len(d) && plain[d[i]] {
		i++
	}
	return i
}

func hex4(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// Number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *Scanner) Number(i int) (int, error) {
	d := s.Data
	start := i
	if d[i] == '-' {
		i++
	}
	digits := func() bool {
		j := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		return i > j
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case !digits():
		return i, s.Syntax(start, "bad number")
	}
	if i < len(d) && d[i] == '.' {
		i++
		if !digits() {
			return i, s.Syntax(start, "bad fraction")
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if !digits() {
			return i, s.Syntax(start, "bad exponent")
		}
	}
	return i, nil
}

// Member is called for each member of an object scanned with a callback: key is the raw
// key without quotes (escapes left as they are), v the value's start. It returns the
// value's end.
type Member func(key []byte, v int) (int, error)

// Object scans the object at i. With each nil, values are scanned and skipped.
func (s *Scanner) Object(i, depth int, each Member) (int, error) {
	if s.tooDeep(depth) {
		return i, s.Syntax(i, "nested too deep")
	}
	d := s.Data
	i = s.WS(i + 1)
	if i < len(d) && d[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(d) || d[i] != '"' {
			return i, s.Syntax(i, "object key expected")
		}
		kend, _, err := s.Str(i)
		if err != nil {
			return kend, err
		}
		key := d[i+1 : kend-1]
		i = s.WS(kend)
		if i >= len(d) || d[i] != ':' {
			return i, s.Syntax(i, "':' expected")
		}
		i = s.WS(i + 1)
		if each != nil {
			i, err = each(key, i)
		} else {
			i, err = s.Value(i, depth)
		}
		if err != nil {
			return i, err
		}
		i = s.WS(i)
		if i >= len(d) {
			return i, s.Syntax(i, "unterminated object")
		}
		switch d[i] {
		case ',':
			i = s.WS(i + 1)
		case '}':
			return i + 1, nil
		default:
			return i, s.Syntax(i, "',' or '}' expected")
		}
	}
}

// Array scans the array at i, calling each (when not nil) with every element's start; each
// returns the element's end.
func (s *Scanner) Array(i, depth int, each func(v int) (int, error)) (int, error) {
	if s.tooDeep(depth) {
		return i, s.Syntax(i, "nested too deep")
	}
	d := s.Data
	i = s.WS(i + 1)
	if i < len(d) && d[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if each != nil {
			i, err = each(i)
		} else {
			i, err = s.Value(i, depth)
		}
		if err != nil {
			return i, err
		}
		i = s.WS(i)
		if i >= len(d) {
			return i, s.Syntax(i, "unterminated array")
		}
		switch d[i] {
		case ',':
			i = s.WS(i + 1)
		case ']':
			return i + 1, nil
		default:
			return i, s.Syntax(i, "',' or ']' expected")
		}
	}
}

// Integer reads the JSON number b as a non-negative int that fits in 53 bits.
func Integer(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
