package tasks

import (
	"encoding/json"
	"strconv"
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
// re-publish is byte-identical. It writes what encoding/json writes for schema.Event with
// HTML escaping off, field by field, without reflection: it runs for every change. Task
// and Previous go in as listed (they were checked to be JSON by the diff).
func encodeEvent(ev schema.Event) ([]byte, error) {
	d := ev.Data
	b := make([]byte, 0, 320+len(d.Task)+len(d.Previous))
	field := func(name, value string) {
		b = append(b, ',', '"')
		b = append(b, name...)
		b = append(b, '"', ':')
		b = appendString(b, []byte(value))
	}
	b = append(b, `{"specversion":`...)
	b = appendString(b, []byte(ev.SpecVersion))
	field("id", ev.ID)
	field("source", ev.Source)
	field("type", ev.Type)
	field("subject", ev.Subject)
	b = append(b, `,"time":"`...)
	b = ev.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	field("datacontenttype", ev.DataContentType)
	b = append(b, `,"data":{"op":`...)
	b = appendString(b, []byte(d.Op))
	b = append(b, `,"task":`...)
	b = appendRaw(b, d.Task)
	b = append(b, `,"previous":`...)
	b = appendRaw(b, d.Previous)
	if len(d.Changed) > 0 {
		b = append(b, `,"changed":[`...)
		for i, c := range d.Changed {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, []byte(c))
		}
		b = append(b, ']')
	}
	if d.Truncated {
		b = append(b, `,"truncated":true`...)
	}
	if d.OriginalSize != 0 {
		b = strconv.AppendInt(append(b, `,"original_size":`...), int64(d.OriginalSize), 10)
	}
	return append(b, '}', '}'), nil
}

// appendRaw writes a JSON value as it is, null when there is none.
func appendRaw(b []byte, raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return append(b, "null"...)
	}
	return append(b, raw...)
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
