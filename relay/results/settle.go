package results

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"github.com/reten/reten-relay/schema"
)

// settleTimeout bounds publishing a dead letter or an outcome and acking.
const settleTimeout = 10 * time.Second

// ack settles a message Reten has.
func (p *Pipeline) ack(work context.Context, a *attempt, outcome string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(work), settleTimeout)
	defer cancel()
	if err := a.m.Ack(ctx); err != nil {
		p.log.Warn().Err(err).Str("task_id", taskID(a.msg)).Msg("ack failed; the message will be delivered again and end as already recorded")
	}
	p.settledKey(a.key)
	p.settled(ctx, a, outcome, "", "")
}

// deadLetter publishes a dead letter and, once the broker confirmed it, acks the original.
// If the dead letter cannot be published the original is given back, never acked.
func (p *Pipeline) deadLetter(work context.Context, a *attempt, reason, errText string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(work), settleTimeout)
	defer cancel()
	dl := schema.DeadLetter{
		Reason: reason, Error: errText, HTTPStatus: a.status, Response: a.response, Attempts: a.count,
		Source: a.m.Origin, Headers: a.m.Headers, Message: originalJSON(a.m.Body),
	}
	if a.count > 0 {
		first, last := a.first.UTC(), a.last.UTC()
		dl.FirstAttemptAt, dl.LastAttemptAt = &first, &last
	}
	body, err := json.Marshal(dl)
	if err != nil {
		body, _ = json.Marshal(schema.DeadLetter{Reason: reason, Error: errText, Source: a.m.Origin, Message: originalJSON(nil)})
	}
	headers := maps.Clone(a.m.Headers)
	if headers == nil {
		headers = map[string]string{}
	}
	headers["Dlq-Reason"], headers["dlq_reason"] = reason, reason
	out := schema.Message{Destination: p.cfg.DeadLetterDestination, Key: a.m.Key, ID: deadLetterID(a.m), Headers: headers, Body: body}
	if err := p.cfg.DeadLetters.Publish(ctx, []schema.Message{out}); err != nil {
		p.log.Error().Err(err).Str("reason", reason).Msg("publishing a dead letter failed; the message goes back to the broker")
		p.giveBack(work, a.m, 5*time.Second)
		return
	}
	if err := a.m.Ack(ctx); err != nil {
		p.log.Warn().Err(err).Msg("ack after dead-lettering failed; a second dead letter with the same id may follow")
	}
	p.settledKey(a.key)
	if p.cfg.Metrics != nil {
		p.cfg.Metrics.DeadLetters.WithLabelValues(reason).Inc()
	}
	p.log.Warn().Str("reason", reason).Str("task_id", taskID(a.msg)).Int("http_status", a.status).Msg("dead letter: " + errText)
	p.settled(ctx, a, schema.OutcomeDeadLettered, reason, errText)
}

// settled counts, reports and publishes the outcome (best effort, after the ack).
func (p *Pipeline) settled(ctx context.Context, a *attempt, outcome, reason, errText string) {
	if p.cfg.Metrics != nil {
		p.cfg.Metrics.Results.WithLabelValues(outcomeLabel(outcome)).Inc()
	}
	s := Settled{Outcome: outcome, Reason: reason, TaskID: taskID(a.msg), HTTPStatus: a.status, Attempts: a.count, Err: errText}
	if outcome != schema.OutcomeDeadLettered {
		p.log.Debug().Str("outcome", outcome).Str("task_id", s.TaskID).Int("attempts", a.count).Msg("result settled")
	}
	if p.cfg.OnSettled != nil {
		p.cfg.OnSettled(s)
	}
	if p.cfg.Outcomes == nil {
		return
	}
	body, _ := json.Marshal(schema.Outcome{Type: outcome, TaskID: s.TaskID, HTTPStatus: a.status, Attempts: a.count, Time: p.cfg.Now().UTC()})
	msg := schema.Message{Destination: p.cfg.OutcomeDestination, Key: s.TaskID, ID: deadLetterID(a.m) + "-outcome", Body: body}
	if err := p.cfg.Outcomes.Publish(ctx, []schema.Message{msg}); err != nil {
		p.log.Warn().Err(err).Msg("publishing an outcome failed (outcomes are best effort)")
	}
}

func outcomeLabel(outcome string) string {
	switch outcome {
	case schema.OutcomeAccepted:
		return "accepted"
	case schema.OutcomeAlreadyRecorded:
		return "already_recorded"
	default:
		return "dead_lettered"
	}
}

// originalJSON is the original message for a dead letter: its JSON when it is JSON,
// otherwise a JSON string of it.
func originalJSON(body []byte) json.RawMessage {
	if json.Valid(body) && len(body) > 0 {
		return json.RawMessage(body)
	}
	s, _ := json.Marshal(string(body))
	return s
}

// deadLetterID is deterministic for a delivery, so a dead letter re-published after a
// crash is dropped by JetStream's duplicate window.
func deadLetterID(m schema.Received) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s|%d|%s|%d|%d|", m.Origin.Subject, m.Origin.Sequence, m.Origin.Topic, m.Origin.Partition, m.Origin.Offset)
	h.Write(m.Body)
	return hex.EncodeToString(h.Sum(nil)[:16])
}
