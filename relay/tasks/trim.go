package tasks

import (
	"encoding/json"
	"sort"

	"github.com/reten/reten-relay/schema"
)

// sizeLimited is a sink that can tell the largest message it accepts (NATS: the server's
// max_payload; Kafka: the producer's batch size). Sinks that cannot are never trimmed for.
type sizeLimited interface {
	MaxMessageBytes() int
}

// Trimming constants.
const (
	// headerRoom is what a message's headers may take out of a sink's limit.
	headerRoom = 4 << 10
	// keptFieldBytes is the largest top-level task field a trimmed event keeps.
	keptFieldBytes = 512
)

// trimEvent re-encodes ev so that it fits in budget bytes: task and previous keep only
// their small top-level fields (always the id) and data says truncated, with the size of
// the untrimmed event, so subscribers still learn of the change. The result is the same for
// the same input, so a re-publish after a crash is byte-identical.
func trimEvent(ev schema.Event, fullSize, budget int) ([]byte, error) {
	ev.Data.Truncated, ev.Data.OriginalSize = true, fullSize
	half := max(budget/2-1024, 256)
	ev.Data.Task = trimObject(ev.Data.Task, half)
	ev.Data.Previous = trimObject(ev.Data.Previous, half)
	return encodeEvent(ev)
}

// trimObject keeps the top-level fields of a JSON object that are at most keptFieldBytes,
// in key order, while they fit in budget; the id always. Anything that is not an object
// stays as it is (null stays null).
func trimObject(raw json.RawMessage, budget int) json.RawMessage {
	var m map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &m) != nil {
		return raw
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := []byte{'{'}
	add := func(k string, v json.RawMessage) {
		if len(out) > 1 {
			out = append(out, ',')
		}
		kb, _ := json.Marshal(k) // a string always encodes
		out = append(append(append(out, kb...), ':'), v...)
	}
	if id, ok := m["id"]; ok && len(id) <= keptFieldBytes {
		add("id", id)
	}
	for _, k := range keys {
		v := m[k]
		if k == "id" || len(v) > keptFieldBytes || len(out)+len(k)+len(v)+4 > budget {
			continue
		}
		add(k, v)
	}
	return append(out, '}')
}
