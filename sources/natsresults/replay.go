package natsresults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/reten/reten-relay/schema"
)

// ReplayOptions configure Replay.
type ReplayOptions struct {
	// DeadLetterSubject is where the dead letters are (results.dead_letter).
	DeadLetterSubject string
	// InputSubject is the results input (results.subject). A dead letter goes back to its
	// original subject when that matches InputSubject, else to InputSubject itself (which
	// then must not contain wildcards).
	InputSubject string
	// Limit stops after this many; 0 replays every dead letter there is now.
	Limit int
	// Rate is the most messages per second. Default: 50.
	Rate float64
	// Logger gets a line per replayed message.
	Logger zerolog.Logger
}

// Replay sends dead letters back to the results input, waiting for each PubAck, and
// deletes from the dead-letter stream only those it re-published. It returns how many.
func Replay(ctx context.Context, nc *nats.Conn, opts ReplayOptions) (int, error) {
	if opts.Rate <= 0 {
		opts.Rate = 50
	}
	if opts.DeadLetterSubject == "" || opts.InputSubject == "" {
		return 0, fmt.Errorf("dlq replay: %w: dead-letter subject and input subject are required", ErrInvalidConfig)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, fmt.Errorf("dlq replay: %w", err)
	}
	name, err := js.StreamNameBySubject(ctx, opts.DeadLetterSubject)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, fmt.Errorf("dlq replay: %w: %s (the relay creates one at start-up; was it ever run with this dead_letter?)", ErrNoDeadLetterStream, opts.DeadLetterSubject)
	}
	if err != nil {
		return 0, fmt.Errorf("dlq replay: look up the stream of %s: %w", opts.DeadLetterSubject, err)
	}
	stream, err := js.Stream(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("dlq replay: stream %s: %w", name, err)
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{opts.DeadLetterSubject}})
	if err != nil {
		return 0, fmt.Errorf("dlq replay: read %s: %w", opts.DeadLetterSubject, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("dlq replay: %w", err)
	}
	todo := int(info.NumPending)
	if opts.Limit > 0 {
		todo = min(todo, opts.Limit)
	}
	limiter := rate.NewLimiter(rate.Limit(opts.Rate), 1)
	n := 0
	for n < todo {
		msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			return n, fmt.Errorf("dlq replay: read dead letter: %w", err)
		}
		if err := limiter.Wait(ctx); err != nil {
			return n, err
		}
		md, err := msg.Metadata()
		if err != nil {
			return n, fmt.Errorf("dlq replay: %w", err)
		}
		out, err := replayMsg(msg, md.Sequence.Stream, opts.InputSubject)
		if err != nil {
			opts.Logger.Warn().Err(err).Uint64("sequence", md.Sequence.Stream).Msg("dlq replay: skipped")
			todo-- // not replayable: left where it is
			continue
		}
		if _, err := js.PublishMsg(ctx, out); err != nil {
			return n, fmt.Errorf("dlq replay: publish to %s: %w", out.Subject, err)
		}
		if err := stream.DeleteMsg(ctx, md.Sequence.Stream); err != nil {
			return n, fmt.Errorf("dlq replay: delete dead letter %d after re-publishing it: %w", md.Sequence.Stream, err)
		}
		n++
		opts.Logger.Info().Str("subject", out.Subject).Uint64("sequence", md.Sequence.Stream).Msg("dlq replay: re-published")
	}
	return n, nil
}

// replayMsg rebuilds the original message from a dead letter.
func replayMsg(msg jetstream.Msg, seq uint64, input string) (*nats.Msg, error) {
	var dl schema.DeadLetter
	if err := json.Unmarshal(msg.Data(), &dl); err != nil {
		return nil, fmt.Errorf("not a dead letter: %w", err)
	}
	body, err := dl.Original()
	if err != nil {
		return nil, fmt.Errorf("cannot rebuild the original: %w", err)
	}
	subject := input
	if dl.Source.Subject != "" && subjectMatches(input, dl.Source.Subject) {
		subject = dl.Source.Subject
	}
	if strings.ContainsAny(subject, "*>") {
		return nil, errors.New("no original subject and the input subject has wildcards")
	}
	out := nats.NewMsg(subject)
	out.Data = body
	for k, v := range dl.Headers {
		if k != "Dlq-Reason" && k != "dlq_reason" && k != jetstream.MsgIDHeader {
			out.Header.Set(k, v)
		}
	}
	// A new id per dead letter: a replay run twice does not deliver it twice, while the
	// original's id (still in JetStream's duplicate window, perhaps) does not swallow it.
	out.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("dlq-replay-%d-%s", seq, msg.Headers().Get("Nats-Msg-Id")))
	return out, nil
}

// subjectMatches reports whether subject matches pattern with NATS wildcards.
func subjectMatches(pattern, subject string) bool {
	p, s := strings.Split(pattern, "."), strings.Split(subject, ".")
	for i, tok := range p {
		if tok == ">" {
			return len(s) > i
		}
		if i >= len(s) || (tok != "*" && tok != s[i]) {
			return false
		}
	}
	return len(p) == len(s)
}
