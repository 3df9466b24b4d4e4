package natssink

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/reten/reten-relay/schema"
)

// MsgID is the Nats-Msg-Id of m: "<id>/<route>" for a message of a route, so two routes
// into one stream keep both copies while a re-publish of either carries the same id
// (design §5); the bare id for messages of no route (dead letters, outcomes).
func MsgID(m schema.Message) string {
	if m.ID == "" || m.Route == "" {
		return m.ID
	}
	return m.ID + "/" + m.Route
}

// HeaderName spells a message header the NATS way: schema.Message carries the CloudEvents
// attributes as the Kafka binding names them (ce_id), the NATS binding spells them ce-id;
// a dead letter's reason is Dlq-Reason on NATS (design §5). Other headers (a dead letter's
// copy of a producer's) keep their names.
func HeaderName(k string) string {
	// Constants, not "ce-" + the rest: this runs for every header of every message.
	switch k {
	case schema.HeaderDeadLetterReason:
		return "Dlq-Reason"
	case "ce_id":
		return "ce-id"
	case "ce_type":
		return "ce-type"
	case "ce_source":
		return "ce-source"
	case "ce_subject":
		return "ce-subject"
	case "ce_specversion":
		return "ce-specversion"
	case "ce_time":
		return "ce-time"
	case "ce_datacontenttype":
		return "ce-datacontenttype"
	}
	return k
}

// natsMsg is one NATS message used for a whole batch: nats.go encodes the headers and
// copies subject, headers and data before PublishMsg returns, so a batch needs one
// message, one header map and one array of values, not one of each per message.
type natsMsg struct {
	msg  nats.Msg
	hdr  nats.Header
	vals []string
}

// set makes the message m's: its headers (see HeaderName) plus Nats-Msg-Id.
func (nm *natsMsg) set(m schema.Message) *nats.Msg {
	nm.msg = nats.Msg{Subject: m.Destination, Data: m.Body}
	if len(m.Headers) == 0 && m.ID == "" {
		return &nm.msg
	}
	if nm.hdr == nil {
		nm.hdr = make(nats.Header, len(m.Headers)+1)
	}
	h := nm.hdr
	clear(h)
	// Each value is a one-element slice of one shared array (a full slice expression,
	// so an Add to one header cannot overwrite the next).
	if cap(nm.vals) < len(m.Headers)+1 {
		nm.vals = make([]string, 0, len(m.Headers)+1)
	}
	nm.vals = nm.vals[:0]
	one := func(v string) []string {
		nm.vals = append(nm.vals, v)
		n := len(nm.vals)
		return nm.vals[n-1 : n : n]
	}
	for k, v := range m.Headers {
		// Direct assignment: NATS headers are case-sensitive and Set would not keep
		// them as given on every nats.go version.
		h[HeaderName(k)] = one(v)
	}
	if m.ID != "" {
		h[jetstream.MsgIDHeader] = one(MsgID(m))
	}
	nm.msg.Header = h
	return &nm.msg
}

// publishJetStream publishes msgs with reply subjects of the sink's ackWaiter, then waits
// for every PubAck.
func (s *Sink) publishJetStream(ctx context.Context, msgs []schema.Message) error {
	run := s.acks.start(len(msgs))
	var nm natsMsg
	for i, m := range msgs {
		msg := nm.set(m)
		msg.Reply = run.reply(i)
		if err := s.nc.PublishMsg(msg); err != nil {
			s.acks.forget(run)
			return fmt.Errorf("publish message %s to jetstream subject %s: %w", m.ID, m.Destination, notConnected(err))
		}
	}
	if answered, err := s.acks.wait(ctx, run); err != nil {
		return fmt.Errorf("wait for jetstream acks on %s (%d of %d answered): %w",
			msgs[0].Destination, answered, len(msgs), err)
	}
	var errs []error
	for i, err := range run.errs {
		if err == errAcked {
			continue
		}
		if errors.Is(err, jetstream.ErrNoStreamResponse) {
			// The stream may be gone (deleted, or the server lost its store): look at
			// the streams again, and re-create ours, before the next publish.
			s.streams.Reset("no response from stream")
		}
		errs = append(errs, fmt.Errorf("message %s: %w", msgs[i].ID, err))
	}
	if len(errs) > 0 {
		return fmt.Errorf("publish to jetstream: %d of %d messages not acknowledged: %w",
			len(errs), len(msgs), errors.Join(errs...))
	}
	return nil
}

// publishCore publishes msgs with core NATS and flushes: nil means the server has them.
func (s *Sink) publishCore(ctx context.Context, msgs []schema.Message) error {
	var nm natsMsg
	for _, m := range msgs {
		if err := s.nc.PublishMsg(nm.set(m)); err != nil {
			return fmt.Errorf("publish message %s to nats subject %s: %w", m.ID, m.Destination, notConnected(err))
		}
	}
	if err := s.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("flush %d messages to nats: %w", len(msgs), err)
	}
	return nil
}

// notConnected marks the error a publish gets while reconnecting (the reconnect buffer
// is off, so it is "buffer exceeded") with ErrNotConnected.
func notConnected(err error) error {
	if errors.Is(err, nats.ErrReconnectBufExceeded) {
		return fmt.Errorf("%w: %w", ErrNotConnected, err)
	}
	return err
}
