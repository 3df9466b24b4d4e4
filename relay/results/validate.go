package results

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/reten/reten-relay/schema"
)

// MaxMessageBytes is the largest result message the relay accepts: a result is a few
// hundred bytes, and Reten's own body limit is unknown, so anything near a broker's 1 MiB is
// surely broken.
const MaxMessageBytes = 256 << 10

// Rejection says why a message can never be submitted.
type Rejection struct {
	// Reason is schema.ReasonInvalidMessage or schema.ReasonUnknownResultType.
	Reason string
	// Err says what is wrong, naming the field.
	Err string
}

// Validate checks a result message the way Reten documents its POST body (reten-api.md §3),
// and its result code against the tenant's result types (nil types: not checked). It
// returns the decoded message, or why it is hopeless. Unknown fields are allowed: the relay
// forwards the original bytes.
func Validate(body []byte, types map[string]schema.ResultType, now time.Time) (*schema.ResultMessage, *Rejection) {
	// A rejected message is returned as far as it decoded too, so that its activity id names
	// the task in the outcome and the logs.
	var msg *schema.ResultMessage
	invalid := func(format string, a ...any) (*schema.ResultMessage, *Rejection) {
		return msg, &Rejection{Reason: schema.ReasonInvalidMessage, Err: fmt.Sprintf(format, a...)}
	}
	switch {
	case len(body) > MaxMessageBytes:
		return invalid("message is %d bytes, more than the limit of %d", len(body), MaxMessageBytes)
	case len(bytes.TrimSpace(body)) == 0:
		return invalid("message is empty")
	case !utf8.Valid(body):
		return invalid("message is not UTF-8 text (binary data?)")
	}
	top, err := objectMembers(body)
	if err != nil {
		err := json.Unmarshal(body, new(json.RawMessage))
		return invalid("message is not valid JSON: %v", err)
	}
	if top == nil {
		return invalid("message must be a JSON object, got %s", jsonKind(body))
	}
	f := fields{m: top}
	msg = &schema.ResultMessage{
		ActivityID:         f.given("activity_id"),
		ProviderActivityID: f.given("provider_activity_id"),
		CommerceExternalID: f.str("commerce_external_id", true),
		OccurredAt:         f.str("occurred_at", true),
		Status:             f.str("status", true),
		ExternalStatus:     f.str("external_status", false),
		HardOverride:       f.boolean("hard_override"),
		RawPayload:         f.object("raw_payload", false),
	}
	tr := fields{prefix: "task_result."}
	if raw := f.object("task_result", true); raw != nil {
		tr.m, _ = objectMembers(raw) // checked with the whole message
		msg.TaskResult = schema.TaskResult{
			Result:             tr.str("result", true),
			Comment:            tr.str("comment", false),
			ContactType:        tr.given("contact_type"),
			OperatorExternalID: tr.str("operator_external_id", false),
			FutureScheduledAt:  tr.given("future_scheduled_at"),
			Payload:            tr.object("payload", false),
		}
	}
	problems := append(f.problems, tr.problems...)
	if msg.ActivityID == "" && msg.ProviderActivityID == "" && !f.has("activity_id") && !f.has("provider_activity_id") {
		problems = append(problems, "activity_id or provider_activity_id is required")
	}
	if msg.Status != "" && !slices.Contains([]string{schema.ResultEffective, schema.ResultNotEffective, schema.ResultPending}, msg.Status) {
		problems = append(problems, fmt.Sprintf("status must be one of EFFECTIVE, NOT_EFFECTIVE, PENDING, got %q", msg.Status))
	}
	if c := msg.TaskResult.ContactType; c != "" && c != "INBOUND" && c != "OUTBOUND" {
		problems = append(problems, fmt.Sprintf("task_result.contact_type must be INBOUND or OUTBOUND, got %q", c))
	}
	if msg.OccurredAt != "" {
		if _, err := time.Parse(time.RFC3339Nano, msg.OccurredAt); err != nil {
			problems = append(problems, fmt.Sprintf("occurred_at must be an RFC 3339 date, got %q", msg.OccurredAt))
		}
	}
	var future time.Time
	if s := msg.TaskResult.FutureScheduledAt; s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			problems = append(problems, fmt.Sprintf("task_result.future_scheduled_at must be an RFC 3339 date, got %q", s))
		}
		future = t
	}
	if len(problems) > 0 {
		return invalid("%s", strings.Join(problems, "; "))
	}
	if types == nil {
		return msg, nil
	}
	rt, ok := types[msg.TaskResult.Result]
	if !ok {
		return msg, &Rejection{Reason: schema.ReasonUnknownResultType,
			Err: fmt.Sprintf("task_result.result %q is not a result type of this tenant (known: %s)", msg.TaskResult.Result, typeCodes(types))}
	}
	if rt.RequiresFutureScheduledAt {
		switch {
		case msg.TaskResult.FutureScheduledAt == "":
			return invalid("task_result.future_scheduled_at is required for result type %s", rt.Code)
		case !future.After(now):
			return invalid("task_result.future_scheduled_at must be in the future for result type %s, got %s", rt.Code, msg.TaskResult.FutureScheduledAt)
		}
	}
	return msg, nil
}

// fields reads typed members of a JSON object and collects what is wrong with them.
type fields struct {
	prefix   string
	m        members
	problems []string
}

func (f *fields) has(k string) bool {
	v, ok := f.m.get(k)
	return ok && string(v) != "null"
}

func (f *fields) str(k string, required bool) string {
	raw, ok := f.m.get(k)
	if !ok || string(raw) == "null" {
		if required {
			f.problems = append(f.problems, f.prefix+k+" is required")
		}
		return ""
	}
	s, ok := plainString(raw)
	if ok {
		// the common case, without a decoder
	} else if err := json.Unmarshal(raw, &s); err != nil {
		f.problems = append(f.problems, fmt.Sprintf("%s%s must be a string, got %s", f.prefix, k, jsonKind(raw)))
		return ""
	}
	if required && strings.TrimSpace(s) == "" {
		f.problems = append(f.problems, f.prefix+k+" must not be empty")
	}
	return s
}

// given is an optional string that, when given (not absent, not null), must not be blank: an
// empty id, contact type or date is a mistake, not a way to leave the field out.
func (f *fields) given(k string) string {
	s := f.str(k, false)
	if f.has(k) && strings.TrimSpace(s) == "" && !slices.ContainsFunc(f.problems, func(p string) bool { return strings.HasPrefix(p, f.prefix+k+" ") }) {
		f.problems = append(f.problems, f.prefix+k+" must not be empty when given (leave it out, or null)")
	}
	return s
}

func (f *fields) boolean(k string) bool {
	raw, ok := f.m.get(k)
	if !ok || string(raw) == "null" {
		return false
	}
	switch string(raw) {
	case "true":
		return true
	case "false":
		return false
	}
	f.problems = append(f.problems, fmt.Sprintf("%s%s must be a boolean, got %s", f.prefix, k, jsonKind(raw)))
	return false
}

// plainString reads a JSON string that needs no unescaping (most do not) without a
// decoder; raw comes from a decoded document, so it is valid JSON.
func plainString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') >= 0 {
		return "", false
	}
	return string(inner), true
}

func (f *fields) object(k string, required bool) json.RawMessage {
	raw, ok := f.m.get(k)
	if !ok || string(raw) == "null" {
		if required {
			f.problems = append(f.problems, f.prefix+k+" is required")
		}
		return nil
	}
	if jsonKind(raw) != "an object" {
		f.problems = append(f.problems, fmt.Sprintf("%s%s must be an object, got %s", f.prefix, k, jsonKind(raw)))
		return nil
	}
	return raw
}

// jsonKind names the kind of a JSON value for error messages.
func jsonKind(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

func typeCodes(types map[string]schema.ResultType) string {
	codes := make([]string, 0, len(types))
	for c := range types {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	return strings.Join(codes, ", ")
}
