package tasks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/reten/reten-relay/relay"
	"github.com/reten/reten-relay/schema"
)

// CloudEvents constants of task events.
const (
	specVersion = "1.0"
	// dataContentType is the content type of the event's data.
	dataContentType = "application/json"
	// structuredContentType is the content type of the whole message in structured mode.
	structuredContentType = "application/cloudevents+json"
)

// newEvent builds the CloudEvent of one change. task is nil for deleted, previous nil for
// created.
func newEvent(source, id, taskID string, op schema.Op, at time.Time, task, previous []byte, changed []string) schema.Event {
	return schema.Event{
		SpecVersion:     specVersion,
		ID:              id,
		Source:          source,
		Type:            schema.EventTypePrefix + string(op),
		Subject:         taskID,
		Time:            at,
		DataContentType: dataContentType,
		Data: schema.EventData{
			Op:       op,
			Task:     rawOrNull(task),
			Previous: rawOrNull(previous),
			Changed:  changed,
		},
	}
}

func rawOrNull(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil // encodes as null
	}
	return json.RawMessage(b)
}

// encodeEvent encodes ev as it goes on the wire; the bytes are stored in the outbox so a
// re-publish is byte-identical. HTML escaping is off so task strings keep their bytes.
func encodeEvent(ev schema.Event) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ev); err != nil {
		return nil, fmt.Errorf("encode event %s for task %s: %w", ev.ID, ev.Subject, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// decodeEvent decodes an outbox body for routing.
func decodeEvent(body []byte) (schema.Event, error) {
	var ev schema.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		return schema.Event{}, fmt.Errorf("decode outbox event: %w", err)
	}
	return ev, nil
}

// message addresses one encoded event to one target. The Kafka key is the route's key,
// by default the task id, so each task's events stay in order in one partition; the ce_* headers let consumers filter
// without parsing the body.
func message(ev schema.Event, body []byte, t relay.Target) schema.Message {
	key := t.Key
	if key == "" {
		key = ev.Subject
	}
	return schema.Message{
		Destination: t.Destination,
		Route:       t.Route,
		Key:         key,
		ID:          ev.ID,
		Headers: map[string]string{
			"ce_specversion": ev.SpecVersion,
			"ce_type":        ev.Type,
			"ce_source":      ev.Source,
			"ce_subject":     ev.Subject,
			"ce_id":          ev.ID,
			"content-type":   structuredContentType,
		},
		Body: body,
	}
}
