package routing

import (
	"errors"
	"fmt"
	"strings"
)

// Field names a value of a task event that templates and filters can use.
type Field int

// The fields of a task event, in the order of KnownFields.
const (
	FieldOp Field = iota
	FieldID
	FieldType
	FieldStatus
	FieldChannel
	FieldLifecycleStatus
	FieldActivityOrigin
	FieldCommerceExternalID
	numFields
)

// KnownFields lists the field names templates and `when` filters accept, in Field order.
var KnownFields = []string{
	"op", "id", "type", "status", "channel",
	"lifecycle_status", "activity_origin", "commerce_external_id",
}

// ErrTemplate is wrapped by every error ParseTemplate returns.
var ErrTemplate = errors.New("invalid template")

// LookupField returns the Field called name, and false when there is none.
func LookupField(name string) (Field, bool) {
	for i, n := range KnownFields {
		if n == name {
			return Field(i), true
		}
	}
	return 0, false
}

// String returns the field's name as written in templates.
func (f Field) String() string {
	if f < 0 || f >= numFields {
		return fmt.Sprintf("Field(%d)", int(f))
	}
	return KnownFields[f]
}

// Template is a parsed subject, topic or key template. It is immutable and safe for
// concurrent use.
type Template struct {
	src   string
	parts []part
}

// part is either literal text (field < 0) or a placeholder.
type part struct {
	lit   string
	field Field
	isLit bool
}

// ParseTemplate parses s: literal text with {field} placeholders naming KnownFields.
// Braces cannot appear in the literal text.
func ParseTemplate(s string) (*Template, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrTemplate)
	}
	t := &Template{src: s}
	rest := s
	for rest != "" {
		open := strings.IndexAny(rest, "{}")
		if open < 0 {
			t.parts = append(t.parts, part{lit: rest, isLit: true})
			break
		}
		if rest[open] == '}' {
			return nil, fmt.Errorf("%w: unexpected '}' at offset %d", ErrTemplate, len(s)-len(rest)+open)
		}
		if open > 0 {
			t.parts = append(t.parts, part{lit: rest[:open], isLit: true})
		}
		end := strings.IndexAny(rest[open+1:], "{}")
		if end < 0 || rest[open+1+end] == '{' {
			return nil, fmt.Errorf("%w: unclosed '{' at offset %d", ErrTemplate, len(s)-len(rest)+open)
		}
		name := rest[open+1 : open+1+end]
		f, ok := LookupField(strings.TrimSpace(name))
		if !ok {
			return nil, fmt.Errorf("%w: unknown field %q; known fields are %s",
				ErrTemplate, name, strings.Join(KnownFields, ", "))
		}
		t.parts = append(t.parts, part{field: f})
		rest = rest[open+1+end+1:]
	}
	return t, nil
}

// String returns the template as written.
func (t *Template) String() string { return t.src }

// Literal returns the template's text with every placeholder replaced by repl; config
// uses it to validate the literal parts ("*" makes a placeholder a wildcard token).
func (t *Template) Literal(repl string) string {
	var b strings.Builder
	for _, p := range t.parts {
		if p.isLit {
			b.WriteString(p.lit)
		} else {
			b.WriteString(repl)
		}
	}
	return b.String()
}

// StreamSubject is the subject a JetStream stream must capture to hold everything the
// template renders: every token holding a placeholder becomes '*', whatever else it holds
// ("reten.tasks.{op}_{channel}" → "reten.tasks.*"). A rendered value never contains '.'
// (see Escape), so it never leaves its token. Config validation and the stream wiring
// both use it, so they cannot disagree.
func (t *Template) StreamSubject() string {
	tokens := strings.Split(t.Literal("\x00"), ".")
	for i, tok := range tokens {
		if strings.Contains(tok, "\x00") {
			tokens[i] = "*"
		}
	}
	return strings.Join(tokens, ".")
}

// Fields returns the fields the template uses, in order of appearance.
func (t *Template) Fields() []Field {
	var fs []Field
	for _, p := range t.parts {
		if !p.isLit {
			fs = append(fs, p.field)
		}
	}
	return fs
}

// Render renders the template for the values v, escaping every value (see the package
// doc) so that it stays within one subject token and is legal in a Kafka topic.
func (t *Template) Render(v *Values) string {
	return t.render(v, true)
}

// RenderRaw renders the template without escaping, for Kafka keys.
func (t *Template) RenderRaw(v *Values) string {
	return t.render(v, false)
}

func (t *Template) render(v *Values, escape bool) string {
	if len(t.parts) == 1 && t.parts[0].isLit {
		return t.parts[0].lit
	}
	var b strings.Builder
	b.Grow(len(t.src) + 32)
	for _, p := range t.parts {
		switch {
		case p.isLit:
			b.WriteString(p.lit)
		case escape:
			writeEscaped(&b, v.Get(p.field))
		default:
			b.WriteString(v.Get(p.field))
		}
	}
	return b.String()
}

// Escape returns s as it renders in a subject or topic: every character outside
// [A-Za-z0-9_-] replaced by '_', and "" as "_".
func Escape(s string) string {
	var b strings.Builder
	writeEscaped(&b, s)
	return b.String()
}

func writeEscaped(b *strings.Builder, s string) {
	if s == "" {
		b.WriteByte('_')
		return
	}
	for _, r := range s {
		if safe(r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
}

func safe(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-'
}
