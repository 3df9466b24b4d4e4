package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// OpDispatched is the op of an activity Reten pushed to the relay's dispatch endpoint. It
// is not a change of the task list: the poller stays the source of created/updated/deleted.
const OpDispatched Op = "dispatched"

// CloudEvents constants of task events.
const (
	// SpecVersion is the CloudEvents version of every event.
	SpecVersion = "1.0"
	// DataContentType is the content type of an event's data.
	DataContentType = "application/json"
	// StructuredContentType is the content type of a whole event in structured mode.
	StructuredContentType = "application/cloudevents+json"
)

// NewEvent builds the CloudEvent of one task event. task is nil for deleted, previous nil
// for created and dispatched.
func NewEvent(source, id, taskID string, op Op, at time.Time, task, previous []byte, changed []string) Event {
	return Event{
		SpecVersion:     SpecVersion,
		ID:              id,
		Source:          source,
		Type:            EventTypePrefix + string(op),
		Subject:         taskID,
		Time:            at,
		DataContentType: DataContentType,
		Data: EventData{
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

// EncodeEvent encodes ev as it goes on the wire. HTML escaping is off so task strings keep
// their bytes.
func EncodeEvent(ev Event) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ev); err != nil {
		return nil, fmt.Errorf("encode event %s for task %s: %w", ev.ID, ev.Subject, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// EventMessage addresses an encoded event to one destination of a route. key is the Kafka
// record key; empty means the task id, which keeps each task's events in order in one
// partition. The route makes the NATS message id (<id>/<route>), so two routes into one
// stream keep both copies. The ce_* headers let consumers filter without parsing the body.
func EventMessage(ev Event, body []byte, route, destination, key string) Message {
	if key == "" {
		key = ev.Subject
	}
	return Message{
		Destination: destination,
		Route:       route,
		Key:         key,
		ID:          ev.ID,
		Headers: map[string]string{
			"ce_specversion": ev.SpecVersion,
			"ce_type":        ev.Type,
			"ce_source":      ev.Source,
			"ce_subject":     ev.Subject,
			"ce_id":          ev.ID,
			"content-type":   StructuredContentType,
		},
		Body: body,
	}
}
