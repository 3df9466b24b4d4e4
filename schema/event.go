package schema

import (
	"encoding/json"
	"time"
)

// Op is what happened to a task between two complete listings.
type Op string

// The three task operations.
const (
	OpCreated Op = "created"
	OpUpdated Op = "updated"
	OpDeleted Op = "deleted"
)

// EventTypePrefix prefixes the CloudEvents type of task events: "ai.reten.task.created".
const EventTypePrefix = "ai.reten.task."

// Event is a task change as a CloudEvents 1.0 event in structured JSON mode (design §5).
type Event struct {
	SpecVersion     string    `json:"specversion"`
	ID              string    `json:"id"`
	Source          string    `json:"source"`
	Type            string    `json:"type"`
	Subject         string    `json:"subject"`
	Time            time.Time `json:"time"`
	DataContentType string    `json:"datacontenttype"`
	Data            EventData `json:"data"`
}

// EventData is the data member of a task event.
type EventData struct {
	Op Op `json:"op"`
	// Task is the task as Reten listed it, byte for byte; JSON null for deleted.
	Task json.RawMessage `json:"task"`
	// Previous is the task as last published; JSON null for created.
	Previous json.RawMessage `json:"previous"`
	// Changed lists the top-level fields that differ between Previous and Task (updated only).
	Changed []string `json:"changed,omitempty"`
	// Truncated is true when the event was larger than the broker accepts: Task and
	// Previous then hold only their small top-level fields (always the id), and
	// OriginalSize says how large the whole event was. Fetch the task from Reten for the rest.
	Truncated bool `json:"truncated,omitempty"`
	// OriginalSize is the size in bytes of the untrimmed event (set with Truncated).
	OriginalSize int `json:"original_size,omitempty"`
}

// Message is one encoded message addressed to one destination of a sink: a NATS subject
// or a Kafka topic. Sinks publish it as is.
type Message struct {
	// Destination is the NATS subject or Kafka topic.
	Destination string
	// Key is the Kafka record key (the task id for task events); NATS ignores it.
	Key string
	// ID is the message id: the Kafka header ce_id, and on NATS the Nats-Msg-Id header
	// (as "<ID>/<Route>" when Route is set). Empty for messages that have none.
	ID string
	// Route is the name of the route the message was addressed by, "" for messages of no
	// route. NATS makes it part of Nats-Msg-Id so that two routes into one stream keep
	// both copies (JetStream dedupes on that header); the CloudEvent id stays the same.
	Route string
	// Headers are extra headers; sinks add their own for ID.
	Headers map[string]string
	// Body is the payload.
	Body []byte
}
