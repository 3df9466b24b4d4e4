// Package subjects is NATS subject-pattern arithmetic shared by config validation and the
// JetStream stream policy: whether two patterns share a subject, and whether a stream's
// subject filter captures every subject of a pattern. Patterns are dot-separated tokens
// where '*' matches one token and a final '>' one or more. It is a leaf: stdlib only.
package subjects

import "strings"

// tokens walks a pattern's tokens without splitting it (Covers runs for every message a
// JetStream sink publishes).
type tokens struct {
	rest string
	done bool
}

// next returns the next token, false after the last.
func (t *tokens) next() (string, bool) {
	if t.done {
		return "", false
	}
	tok, rest, more := strings.Cut(t.rest, ".")
	t.rest, t.done = rest, !more
	return tok, true
}

// Overlap reports whether some subject matches both patterns a and b.
func Overlap(a, b string) bool {
	ta, tb := tokens{rest: a}, tokens{rest: b}
	for {
		x, okA := ta.next()
		y, okB := tb.next()
		if !okA || !okB {
			return okA == okB
		}
		if x == ">" || y == ">" {
			return true // '>' takes one or more tokens, and the other side has at least one
		}
		if x != "*" && y != "*" && x != y {
			return false
		}
	}
}

// Covers reports whether filter matches every subject that pattern matches; for a
// pattern without wildcards that is simply "filter matches the subject".
func Covers(filter, pattern string) bool {
	tf, tp := tokens{rest: filter}, tokens{rest: pattern}
	for {
		f, okF := tf.next()
		p, okP := tp.next()
		if !okF || !okP {
			return okF == okP
		}
		switch {
		case f == ">":
			return true
		case p == ">":
			return false // the pattern takes any number of tokens, the filter one
		case f == "*":
		case p == "*" || f != p:
			return false
		}
	}
}
