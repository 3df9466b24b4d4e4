// Package subjects is NATS subject-pattern arithmetic shared by config validation and the
// JetStream stream policy: whether two patterns share a subject, and whether a stream's
// subject filter captures every subject of a pattern. Patterns are dot-separated tokens
// where '*' matches one token and a final '>' one or more. It is a leaf: stdlib only.
package subjects

import "strings"

// Overlap reports whether some subject matches both patterns a and b.
func Overlap(a, b string) bool {
	ta, tb := strings.Split(a, "."), strings.Split(b, ".")
	for len(ta) > 0 && len(tb) > 0 {
		if ta[0] == ">" || tb[0] == ">" {
			return true // '>' takes one or more tokens, and the other side has at least one
		}
		if ta[0] != "*" && tb[0] != "*" && ta[0] != tb[0] {
			return false
		}
		ta, tb = ta[1:], tb[1:]
	}
	return len(ta) == 0 && len(tb) == 0
}

// Covers reports whether filter matches every subject that pattern matches; for a
// pattern without wildcards that is simply "filter matches the subject".
func Covers(filter, pattern string) bool {
	tf, tp := strings.Split(filter, "."), strings.Split(pattern, ".")
	for len(tf) > 0 && len(tp) > 0 {
		switch {
		case tf[0] == ">":
			return true
		case tp[0] == ">":
			return false // the pattern takes any number of tokens, the filter one
		case tf[0] == "*":
		case tp[0] == "*" || tf[0] != tp[0]:
			return false
		}
		tf, tp = tf[1:], tp[1:]
	}
	return len(tf) == 0 && len(tp) == 0
}
