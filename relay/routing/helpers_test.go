package routing_test

import (
	"encoding/json"
	"testing"

	"github.com/reten/reten-relay/schema"
)

// event builds a task event; task and previous are JSON objects or "" for null.
func event(t testing.TB, op schema.Op, id, task, previous string) schema.Event {
	t.Helper()
	raw := func(s string) json.RawMessage {
		if s == "" {
			return json.RawMessage("null")
		}
		if !json.Valid([]byte(s)) {
			t.Fatalf("invalid JSON in test: %s", s)
		}
		return json.RawMessage(s)
	}
	return schema.Event{
		SpecVersion: "1.0",
		ID:          "ev-" + id,
		Type:        schema.EventTypePrefix + string(op),
		Subject:     id,
		Data:        schema.EventData{Op: op, Task: raw(task), Previous: raw(previous)},
	}
}

const sampleTask = `{"id":"t-1","activityOrigin":"ACTIVITY","type":"TASK","status":"PENDING",` +
	`"channel":"WHATSAPP","lifecycleStatus":"SCHEDULED","commerceExternalId":"COM-001"}`
