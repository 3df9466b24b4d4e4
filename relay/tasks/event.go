package tasks

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/reten/reten-relay/relay"
	"github.com/reten/reten-relay/schema"
)

// encodeEvent encodes ev as it goes on the wire; the bytes are stored in the outbox so a
// re-publish is byte-identical. It writes what encoding/json writes for schema.Event with
// HTML escaping off, field by field, without reflection: it runs for every change. Task
// and Previous go in as listed (they were checked to be JSON by the diff).
func encodeEvent(ev schema.Event) ([]byte, error) {
	b, _, err := encodeEventAt(ev)
	return b, err
}

// encodeEventAt is encodeEvent that also says where in the body data.task begins.
func encodeEventAt(ev schema.Event) (body []byte, taskAt int, err error) {
	return appendEventAt(make([]byte, 0, eventSize(ev)), ev)
}

// eventEnvelope is about the bytes of an event body around its task JSON.
const eventEnvelope = 320

// eventSize is about the size of ev's body.
func eventSize(ev schema.Event) int {
	return eventEnvelope + len(ev.Data.Task) + len(ev.Data.Previous)
}

// appendEventAt appends ev's body to b (whose length must be 0) and says where in it
// data.task begins.
func appendEventAt(b []byte, ev schema.Event) (body []byte, taskAt int, err error) {
	d := ev.Data
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
	taskAt = len(b)
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
	return append(b, '}', '}'), taskAt, nil
}

// appendRaw writes a JSON value as it is, null when there is none.
func appendRaw(b []byte, raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return append(b, "null"...)
	}
	return append(b, raw...)
}

// message addresses one encoded event to one target (see schema.EventMessage).
func message(ev schema.Event, body []byte, t relay.Target) schema.Message {
	return schema.EventMessage(ev, body, t.Route, t.Destination, t.Key)
}
