package schema

import (
	"encoding/json"
	"fmt"
	"io"
)

// Redacted is what a Secret prints instead of its value.
const Redacted = "[redacted]"

// Secret holds a credential: the Reten API key, the dispatch key, a broker password, token
// or seed. Every way of printing or marshalling it (fmt verbs, JSON, YAML, text) shows
// "[redacted]" (or "" when empty); only Reveal returns the value. It is the one redacting
// type of the project, so every secret gets the same protection.
type Secret struct {
	v string
}

// NewSecret wraps s.
func NewSecret(s string) Secret { return Secret{v: s} }

// Reveal returns the secret itself, to authenticate and for nothing else.
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.v == "" }

// String returns the redacted form.
func (s Secret) String() string {
	if s.v == "" {
		return ""
	}
	return Redacted
}

// GoString returns the redacted form, for %#v.
func (s Secret) GoString() string { return fmt.Sprintf("schema.Secret(%q)", s.String()) }

// Format prints the redacted form for every verb.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, s.GoString())
		return
	}
	_, _ = io.WriteString(f, s.String())
}

// MarshalJSON returns the redacted form as a JSON string.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText returns the redacted form.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalYAML returns the redacted form.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }
