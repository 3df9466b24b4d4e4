package routing

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/reten/reten-relay/schema"
)

// Values holds the field values of one task event, unescaped.
type Values struct {
	v [numFields]string
}

// Get returns the value of f; "" when the event has none.
func (v *Values) Get(f Field) string {
	if v == nil || f < 0 || f >= numFields {
		return ""
	}
	return v.v[f]
}

// taskFields is the part of a task the router reads. json.RawMessage keeps a field of an
// unexpected type from failing the whole decode.
type taskFields struct {
	Type               json.RawMessage `json:"type"`
	Status             json.RawMessage `json:"status"`
	Channel            json.RawMessage `json:"channel"`
	LifecycleStatus    json.RawMessage `json:"lifecycleStatus"`
	ActivityOrigin     json.RawMessage `json:"activityOrigin"`
	CommerceExternalID json.RawMessage `json:"commerceExternalId"`
}

// ValuesOf extracts the values of ev. Task fields come from data.task, or from
// data.previous for a deleted task.
func ValuesOf(ev schema.Event) *Values {
	return valuesOf(ev, true)
}

// valuesOf skips decoding the task JSON when no route needs a task field.
func valuesOf(ev schema.Event, needTask bool) *Values {
	v := &Values{}
	v.v[FieldOp] = string(ev.Data.Op)
	v.v[FieldID] = ev.Subject
	if !needTask {
		return v
	}
	raw := ev.Data.Task
	if ev.Data.Op == schema.OpDeleted || isNull(raw) {
		raw = ev.Data.Previous
	}
	if isNull(raw) {
		return v
	}
	var tf taskFields
	if !scanFields(raw, &tf) {
		if err := json.Unmarshal(raw, &tf); err != nil {
			// Not an object: no task fields, every one renders as missing.
			return v
		}
	}
	v.v[FieldType] = scalar(tf.Type)
	v.v[FieldStatus] = scalar(tf.Status)
	v.v[FieldChannel] = scalar(tf.Channel)
	v.v[FieldLifecycleStatus] = scalar(tf.LifecycleStatus)
	v.v[FieldActivityOrigin] = scalar(tf.ActivityOrigin)
	v.v[FieldCommerceExternalID] = scalar(tf.CommerceExternalID)
	return v
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || bytes.Equal(raw, []byte("null"))
}

// scalar returns a string as is, a number or boolean by its JSON text, and "" otherwise.
func scalar(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '"':
		if s, ok := plainString(raw); ok {
			return s
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return ""
		}
		return s
	case '{', '[', 'n':
		return ""
	default:
		return string(raw)
	}
}

// plainString returns the text of a JSON string without escapes, control characters or
// invalid UTF-8 (whose decoding is the text itself), and false for any other.
func plainString(raw json.RawMessage) (string, bool) {
	if len(raw) < 2 || raw[len(raw)-1] != '"' {
		return "", false
	}
	body := raw[1 : len(raw)-1]
	for _, c := range body {
		if c < 0x20 || c == '\\' || c == '"' {
			return "", false
		}
	}
	if !utf8.Valid(body) {
		return "", false
	}
	return string(body), true
}
