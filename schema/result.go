package schema

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"
)

// ResultMessage is the body of POST /api/integration/activity-results/tasks, which is also
// the message producers put on the results subject or topic. The relay forwards the
// original bytes, so fields this struct does not know are kept.
type ResultMessage struct {
	ActivityID         string          `json:"activity_id,omitempty"`
	ProviderActivityID string          `json:"provider_activity_id,omitempty"`
	CommerceExternalID string          `json:"commerce_external_id"`
	OccurredAt         string          `json:"occurred_at"`
	Status             string          `json:"status"`
	ExternalStatus     string          `json:"external_status,omitempty"`
	HardOverride       bool            `json:"hard_override,omitempty"`
	RawPayload         json.RawMessage `json:"raw_payload,omitempty"`
	TaskResult         TaskResult      `json:"task_result"`
}

// TaskResult is the task_result member of a ResultMessage.
type TaskResult struct {
	Result             string          `json:"result"`
	Comment            string          `json:"comment,omitempty"`
	ContactType        string          `json:"contact_type,omitempty"`
	OperatorExternalID string          `json:"operator_external_id,omitempty"`
	FutureScheduledAt  string          `json:"future_scheduled_at,omitempty"`
	Payload            json.RawMessage `json:"payload,omitempty"`
}

// Result statuses accepted by Reten's integration API.
const (
	ResultEffective    = "EFFECTIVE"
	ResultNotEffective = "NOT_EFFECTIVE"
	ResultPending      = "PENDING"
)

// Origin says where a received message came from: a NATS subject and stream sequence, or a
// Kafka topic, partition and offset.
type Origin struct {
	Subject   string `json:"subject,omitempty"`
	Sequence  uint64 `json:"sequence,omitempty"`
	Topic     string `json:"topic,omitempty"`
	Partition int    `json:"partition,omitempty"`
	Offset    int64  `json:"offset,omitempty"`
}

// Received is one result message read from a broker, with the means to settle it.
// Exactly one of Ack and Retry must be called once the relay has decided.
type Received struct {
	Body    []byte
	Key     string
	Headers map[string]string
	Origin  Origin
	// Deliveries counts deliveries of this message, 1 the first time.
	Deliveries int
	// FirstDelivered is when the broker first delivered it (or when this process first saw it).
	FirstDelivered time.Time

	// Ack settles the message for good: it is never delivered again.
	Ack func(ctx context.Context) error
	// Retry gives the message back to be delivered again no sooner than delay.
	Retry func(ctx context.Context, delay time.Duration) error
	// InProgress tells the broker the message is still being worked on. May be nil.
	InProgress func(ctx context.Context) error
	// AckWait is how long the broker waits for a settle or an InProgress before it delivers
	// the message again; 0 means it never does (Kafka: an unsettled offset is simply not
	// committed).
	AckWait time.Duration
}

// ErrStaleDelivery is wrapped by a source's Ack or Retry when settling this delivery can
// never succeed (it was settled already, or its partition went to another consumer):
// trying again is pointless.
var ErrStaleDelivery = errors.New("delivery can no longer be settled")

// HeaderDeadLetterReason is the header a dead letter adds to the original's: dlq_reason on
// Kafka; the NATS sink spells it Dlq-Reason (design §5).
const HeaderDeadLetterReason = "dlq_reason"

// Dead-letter reasons (design §5).
const (
	ReasonInvalidMessage    = "invalid_message"
	ReasonUnknownResultType = "unknown_result_type"
	ReasonRejected          = "rejected"
	ReasonConflict          = "conflict"
	ReasonRetriesExhausted  = "retries_exhausted"
)

// DeadLetter is what the relay publishes for a result message it gave up on.
type DeadLetter struct {
	Reason         string            `json:"reason"`
	Error          string            `json:"error"`
	HTTPStatus     int               `json:"http_status,omitempty"`
	Response       string            `json:"response,omitempty"`
	Attempts       int               `json:"attempts"`
	FirstAttemptAt *time.Time        `json:"first_attempt_at,omitempty"`
	LastAttemptAt  *time.Time        `json:"last_attempt_at,omitempty"`
	Source         Origin            `json:"source"`
	Headers        map[string]string `json:"headers,omitempty"`
	// Message is the original message: its JSON when it was valid UTF-8 JSON, else a JSON
	// string of it (base64 when it was not UTF-8 text, see MessageEncoding).
	Message json.RawMessage `json:"message"`
	// MessageEncoding is "base64" when Message is the base64 of the original bytes (they
	// were not UTF-8 text); empty otherwise.
	MessageEncoding string `json:"message_encoding,omitempty"`
	// MessageTruncated is true when the original was cut to fit the broker's size limit:
	// Message then holds only its first part, and MessageBytes its full size.
	MessageTruncated bool `json:"message_truncated,omitempty"`
	// MessageBytes is the size of the original message in bytes.
	MessageBytes int `json:"message_bytes,omitempty"`
}

// ErrTruncatedOriginal is returned by DeadLetter.Original when the dead letter holds only
// part of the original message.
var ErrTruncatedOriginal = errors.New("the dead letter holds a truncated original")

// Original returns the original message bytes, decoding base64 when the dead letter says
// so. A truncated original cannot be restored: it returns ErrTruncatedOriginal.
func (d DeadLetter) Original() ([]byte, error) {
	if d.MessageTruncated {
		return nil, ErrTruncatedOriginal
	}
	var s string
	if json.Unmarshal(d.Message, &s) != nil {
		return []byte(d.Message), nil // the original was JSON and is embedded as it was
	}
	if d.MessageEncoding == "base64" {
		return base64.StdEncoding.DecodeString(s)
	}
	return []byte(s), nil
}

// Outcome types.
const (
	OutcomeAccepted        = "ai.reten.result.accepted"
	OutcomeAlreadyRecorded = "ai.reten.result.already_recorded"
	OutcomeDeadLettered    = "ai.reten.result.dead_lettered"
)

// Outcome is the optional event the relay publishes when a result message is settled.
type Outcome struct {
	Type       string    `json:"type"`
	TaskID     string    `json:"task_id"`
	HTTPStatus int       `json:"http_status,omitempty"`
	Attempts   int       `json:"attempts"`
	Time       time.Time `json:"time"`
}
