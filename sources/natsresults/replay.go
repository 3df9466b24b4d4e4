package natsresults

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"
)

// ReplayOptions configure Replay.
type ReplayOptions struct {
	// DeadLetterSubject is where the dead letters are (results.dead_letter).
	DeadLetterSubject string
	// InputSubject is the results input (results.subject). A dead letter goes back to its
	// original subject when that matches InputSubject, else to InputSubject itself (which
	// then must not contain wildcards).
	InputSubject string
	// Reason replays only dead letters of this reason; "" replays every one.
	Reason string
	// Limit stops after this many; 0 replays every dead letter there is now.
	Limit int
	// DryRun reports what would be replayed and changes nothing.
	DryRun bool
	// Rate is the most messages per second. Default: 50.
	Rate float64
	// Replayed, when set, is told about each dead letter re-published (or, in a dry run,
	// that would be) and the subject it went to.
	Replayed func(d DeadLetter, to string)
	// Logger gets a line per dead letter that cannot be replayed.
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
	limiter := rate.NewLimiter(rate.Limit(opts.Rate), 1)
	n := 0
	err = eachDeadLetter(ctx, nc, opts.DeadLetterSubject, func(d DeadLetter, stream jetstream.Stream) (bool, error) {
		if opts.Reason != "" && d.Letter.Reason != opts.Reason {
			return true, nil
		}
		out, err := replayMsg(d, opts.InputSubject)
		if err != nil {
			opts.Logger.Warn().Err(err).Uint64("sequence", d.Seq).Msg("dlq replay: skipped, left where it is")
			return true, nil
		}
		if !opts.DryRun {
			if err := limiter.Wait(ctx); err != nil {
				return false, err
			}
			if _, err := js.PublishMsg(ctx, out); err != nil {
				return false, fmt.Errorf("publish to %s: %w", out.Subject, err)
			}
			if err := stream.DeleteMsg(ctx, d.Seq); err != nil {
				return false, fmt.Errorf("delete dead letter %d after re-publishing it: %w", d.Seq, err)
			}
		}
		n++
		if opts.Replayed != nil {
			opts.Replayed(d, out.Subject)
		}
		return opts.Limit == 0 || n < opts.Limit, nil
	})
	if err != nil {
		return n, fmt.Errorf("dlq replay: %w", err)
	}
	return n, nil
}

// replayMsg rebuilds the original message from a dead letter.
func replayMsg(d DeadLetter, input string) (*nats.Msg, error) {
	dl := d.Letter
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
	out.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("dlq-replay-%d-%s", d.Seq, dl.Headers[jetstream.MsgIDHeader]))
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
