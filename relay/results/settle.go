package results

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/reten/reten-relay/schema"
)

// settleTimeout bounds one attempt to publish a dead letter or an outcome, or to ack.
const settleTimeout = 10 * time.Second

// ackRetryFor is how long a failing ack is tried again (NATS reconnecting, say); past it
// the broker redelivers the message, and Reten answers the repeat with 409.
const ackRetryFor = time.Minute

// ackWithRetry acks a settled message, trying again while the broker cannot be reached.
func (p *Pipeline) ackWithRetry(work context.Context, it *item) {
	wait := 50 * time.Millisecond
	deadline := time.Now().Add(ackRetryFor)
	for {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(work), settleTimeout)
		err := it.m.Ack(ctx)
		cancel()
		switch {
		case err == nil:
			return
		case errors.Is(err, schema.ErrStaleDelivery) || time.Now().After(deadline) || work.Err() != nil:
			p.log.Warn().Err(err).Str("task_id", taskID(it.msg)).Msg("ack failed; the message will be delivered again and end as already recorded")
			return
		}
		p.log.Debug().Err(err).Stringer("retry_in", wait).Msg("ack failed; retrying")
		if schema.Sleep(work, wait) != nil {
			continue // one last try right away, then give up above
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// publishDeadLetter publishes the dead letter of it.dl; the broker confirmed it when it
// returns nil.
func (p *Pipeline) publishDeadLetter(work context.Context, it *item) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(work), settleTimeout)
	defer cancel()
	headers := maps.Clone(it.m.Headers)
	if headers == nil {
		headers = map[string]string{}
	}
	// One name here; the NATS sink spells it Dlq-Reason (see natssink.HeaderName).
	headers[schema.HeaderDeadLetterReason] = it.dl.reason
	dl := schema.DeadLetter{
		Reason: it.dl.reason, Error: it.dl.errText, HTTPStatus: it.status, Response: it.response, Attempts: it.attempts,
		Source: it.m.Origin, Headers: it.m.Headers,
	}
	if it.attempts > 0 {
		first, last := it.first.UTC(), it.last.UTC()
		dl.FirstAttemptAt, dl.LastAttemptAt = &first, &last
	}
	body := deadLetterBody(dl, it.m.Body, p.cfg.DeadLetterMaxBytes-headersSize(headers))
	out := schema.Message{Destination: p.cfg.DeadLetterDestination, Key: it.m.Key, ID: deadLetterID(it.m), Headers: headers, Body: body}
	if err := p.cfg.DeadLetters.Publish(ctx, []schema.Message{out}); err != nil {
		return fmt.Errorf("publish dead letter (%s): %w", it.dl.reason, err)
	}
	return nil
}

// deadLettered reports a message whose dead letter was published (and acked).
func (p *Pipeline) deadLettered(it *item) {
	if p.cfg.Metrics != nil {
		p.cfg.Metrics.DeadLetters.WithLabelValues(it.dl.reason).Inc()
	}
	p.log.Warn().Str("reason", it.dl.reason).Str("task_id", taskID(it.msg)).Int("http_status", it.status).Int("attempts", it.attempts).
		Msg("dead letter: " + it.dl.errText)
	p.settledOutcome(it, schema.OutcomeDeadLettered, it.dl.reason, it.dl.errText)
}

// settledOutcome counts, reports and publishes the outcome (best effort, after the ack).
func (p *Pipeline) settledOutcome(it *item, outcome, reason, errText string) {
	if p.cfg.Metrics != nil {
		p.settledCounts[outcomeLabel(outcome)].Inc()
	}
	s := Settled{Outcome: outcome, Reason: reason, TaskID: taskID(it.msg), HTTPStatus: it.status, Attempts: it.attempts, Err: errText}
	if outcome != schema.OutcomeDeadLettered {
		p.log.Debug().Str("outcome", outcome).Str("task_id", s.TaskID).Int("attempts", it.attempts).Msg("result settled")
	}
	if p.cfg.OnSettled != nil {
		p.cfg.OnSettled(s)
	}
	if p.cfg.Outcomes == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	body, _ := json.Marshal(schema.Outcome{Type: outcome, TaskID: s.TaskID, HTTPStatus: it.status, Attempts: it.attempts, Time: p.cfg.Now().UTC()})
	msg := schema.Message{Destination: p.cfg.OutcomeDestination, Key: s.TaskID, ID: deadLetterID(it.m) + "-outcome", Body: body}
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

// deadLetterID is deterministic for a delivery, so a dead letter re-published after a
// crash is dropped by JetStream's duplicate window.
func deadLetterID(m schema.Received) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s|%d|%s|%d|%d|", m.Origin.Subject, m.Origin.Sequence, m.Origin.Topic, m.Origin.Partition, m.Origin.Offset)
	h.Write(m.Body)
	return hex.EncodeToString(h.Sum(nil)[:16])
}
