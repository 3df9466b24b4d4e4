package natsresults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/reten/reten-relay/schema"
)

// DeadLetter is one dead letter as stored in its stream.
type DeadLetter struct {
	// Seq is its stream sequence: `dlq show SEQ` takes it.
	Seq uint64
	// Time is when it was stored.
	Time time.Time
	// Subject is the dead-letter subject it was published to.
	Subject string
	// Letter is the dead letter; Raw its bytes as stored.
	Letter schema.DeadLetter
	Raw    []byte
}

// ListOptions select dead letters.
type ListOptions struct {
	// DeadLetterSubject is results.dead_letter.
	DeadLetterSubject string
	// Reason keeps only dead letters of this reason; "" keeps all.
	Reason string
	// Limit stops after this many matches; 0 lists all there are now.
	Limit int
}

// deadLetterStream finds the stream that holds subject's dead letters.
func deadLetterStream(ctx context.Context, js jetstream.JetStream, subject string) (jetstream.Stream, error) {
	name, err := js.StreamNameBySubject(ctx, subject)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("%w: %s (the relay creates one at start-up; was it ever run with this dead_letter?)", ErrNoDeadLetterStream, subject)
	}
	if err != nil {
		return nil, fmt.Errorf("look up the stream of %s: %w", subject, err)
	}
	return js.Stream(ctx, name)
}

// ListDeadLetters reads the dead letters there are now, oldest first, without removing any.
func ListDeadLetters(ctx context.Context, nc *nats.Conn, opts ListOptions) ([]DeadLetter, error) {
	var out []DeadLetter
	err := eachDeadLetter(ctx, nc, opts.DeadLetterSubject, func(d DeadLetter, _ jetstream.Stream) (bool, error) {
		if opts.Reason == "" || d.Letter.Reason == opts.Reason {
			out = append(out, d)
		}
		return opts.Limit == 0 || len(out) < opts.Limit, nil
	})
	return out, err
}

// ShowDeadLetter returns the dead letter at seq of the stream that holds subject.
func ShowDeadLetter(ctx context.Context, nc *nats.Conn, subject string, seq uint64) (DeadLetter, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return DeadLetter{}, err
	}
	stream, err := deadLetterStream(ctx, js, subject)
	if err != nil {
		return DeadLetter{}, err
	}
	m, err := stream.GetMsg(ctx, seq)
	if err != nil {
		return DeadLetter{}, fmt.Errorf("dead letter %d: %w", seq, err)
	}
	if m.Subject != subject && !subjectMatches(subject, m.Subject) {
		return DeadLetter{}, fmt.Errorf("message %d of stream %s is on %s, not a dead letter of %s", seq, stream.CachedInfo().Config.Name, m.Subject, subject)
	}
	d := DeadLetter{Seq: m.Sequence, Time: m.Time, Subject: m.Subject, Raw: m.Data}
	if err := json.Unmarshal(m.Data, &d.Letter); err != nil {
		return d, fmt.Errorf("message %d is not a dead letter: %w", seq, err)
	}
	return d, nil
}

// eachDeadLetter calls fn for every dead letter there is now, oldest first, until fn says
// stop. Messages that are not dead letters are passed over.
func eachDeadLetter(ctx context.Context, nc *nats.Conn, subject string, fn func(DeadLetter, jetstream.Stream) (more bool, err error)) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	stream, err := deadLetterStream(ctx, js, subject)
	if err != nil {
		return err
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		return fmt.Errorf("read %s: %w", subject, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return err
	}
	for range info.NumPending {
		msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			return fmt.Errorf("read dead letter: %w", err)
		}
		md, err := msg.Metadata()
		if err != nil {
			return err
		}
		d := DeadLetter{Seq: md.Sequence.Stream, Time: md.Timestamp, Subject: msg.Subject(), Raw: msg.Data()}
		if json.Unmarshal(msg.Data(), &d.Letter) != nil || d.Letter.Reason == "" {
			continue
		}
		more, err := fn(d, stream)
		if err != nil || !more {
			return err
		}
	}
	return nil
}
