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
	v := &Values{}
	fillValues(v, ev, allFields)
	return v
}

// fieldSet is a set of Fields, bit f for Field f.
type fieldSet uint16

// allFields holds every Field.
const allFields = fieldSet(1)<<numFields - 1

// fillValues fills the fields of need into v; it skips decoding the task JSON when need
// holds no task field, and makes strings of the fields in need only: a router reads one
// or two of the six task fields, and these strings were a fifth of a first sync's
// allocations.
func fillValues(v *Values, ev schema.Event, need fieldSet) {
	v.v[FieldOp] = string(ev.Data.Op)
	v.v[FieldID] = ev.Subject
	if need&^(1<<FieldOp|1<<FieldID) == 0 {
		return
	}
	raw := ev.Data.Task
	if ev.Data.Op == schema.OpDeleted || isNull(raw) {
		raw = ev.Data.Previous
	}
	if isNull(raw) {
		return
	}
	var tf taskFields
	if !scanFields(raw, &tf) {
		if err := json.Unmarshal(raw, &tf); err != nil {
			// Not an object: no task fields, every one renders as missing.
			return
		}
	}
	set := func(f Field, raw json.RawMessage) {
		if need&(1<<f) != 0 {
			v.v[f] = scalar(raw)
		}
	}
	set(FieldType, tf.Type)
	set(FieldStatus, tf.Status)
	set(FieldChannel, tf.Channel)
	set(FieldLifecycleStatus, tf.LifecycleStatus)
	set(FieldActivityOrigin, tf.ActivityOrigin)
	set(FieldCommerceExternalID, tf.CommerceExternalID)
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
