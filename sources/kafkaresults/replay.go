package kafkaresults

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"golang.org/x/time/rate"

	"github.com/reten/reten-relay/schema"
)

// ReplayOptions configure Replay.
type ReplayOptions struct {
	// Brokers are the bootstrap addresses. Required.
	Brokers []string
	// DeadLetterTopic is where the dead letters are (results.dead_letter). Required.
	DeadLetterTopic string
	// InputTopic is the results input (results.topic). Required.
	InputTopic string
	// Group is the consumer group that remembers what was replayed.
	// Default: reten-relay-dlq-replay.
	Group string
	// Reason replays only dead letters of this reason; "" replays every one. Kafka keeps one
	// position per group, so a filtered replay stops at the first dead letter of another
	// reason (it cannot pass it without losing it for a later replay) and says so.
	Reason string
	// Limit stops after this many; 0 replays every dead letter there is now.
	Limit int
	// DryRun reports what would be replayed and changes nothing.
	DryRun bool
	// Replayed, when set, is told about each dead letter re-published (or, in a dry run,
	// that would be).
	Replayed func(d DeadLetter)
	// Blocked, when set, is told about the dead letter of another reason a filtered replay
	// stopped at.
	Blocked func(d DeadLetter)
	// Rate is the most messages per second. Default: 50.
	Rate float64
	// Logger gets a line per replayed message.
	Logger zerolog.Logger
	// TLS, when set, connects to the brokers with TLS. Default: nil (plaintext).
	TLS *tls.Config
	// SASL, when set, authenticates every connection. Default: nil.
	SASL sasl.Mechanism
}

// replayIdle is how long Replay waits for one more dead letter before it decides it has
// read all there is.
const replayIdle = 3 * time.Second

// Replay writes the original message of each dead letter back to the input topic, with its
// original key and headers (less dlq_reason), waiting for acks=all, and only then commits
// the dead letter in its own consumer group: Kafka cannot delete a record, so "removed" means
// a later replay does not see it again. It returns how many it re-published.
func Replay(ctx context.Context, opts ReplayOptions) (int, error) {
	if len(opts.Brokers) == 0 || opts.DeadLetterTopic == "" || opts.InputTopic == "" {
		return 0, errors.New("dlq replay: brokers, dead-letter topic and input topic are required")
	}
	if opts.Group == "" {
		opts.Group = "reten-relay-dlq-replay"
	}
	if opts.Rate <= 0 {
		opts.Rate = 50
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: opts.Brokers, GroupID: opts.Group, Topic: opts.DeadLetterTopic, StartOffset: kafka.FirstOffset,
		MaxWait: 250 * time.Millisecond, CommitInterval: 0, JoinGroupBackoff: 200 * time.Millisecond,
		Dialer: dialer("reten-relay-dlq-replay", opts.TLS, opts.SASL),
	})
	defer r.Close()
	w := &kafka.Writer{Addr: kafka.TCP(opts.Brokers...), Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: 5 * time.Millisecond,
		Transport: &kafka.Transport{ClientID: "reten-relay-dlq-replay", TLS: opts.TLS, SASL: opts.SASL}}
	defer w.Close()
	limiter := rate.NewLimiter(rate.Limit(opts.Rate), 1)
	n := 0
	for opts.Limit == 0 || n < opts.Limit {
		wait := replayIdle
		if n == 0 {
			wait = 2 * replayIdle // the first read also waits for the group join
		}
		fctx, cancel := context.WithTimeout(ctx, wait)
		m, err := r.FetchMessage(fctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
				return n, nil // nothing more there now
			}
			return n, fmt.Errorf("dlq replay: read %s: %w", opts.DeadLetterTopic, err)
		}
		if dl, ok := decodeDeadLetter(m); ok && opts.Reason != "" && dl.Letter.Reason != opts.Reason {
			if opts.Blocked != nil {
				opts.Blocked(dl)
			}
			return n, nil
		}
		out, err := replayRecord(m, opts.InputTopic)
		if opts.DryRun {
			if err == nil {
				n++
				if opts.Replayed != nil {
					dl, _ := decodeDeadLetter(m)
					opts.Replayed(dl)
				}
			}
			continue
		}
		if err != nil {
			opts.Logger.Warn().Err(err).Int64("offset", m.Offset).Int("partition", m.Partition).Msg("dlq replay: skipped a record that cannot be replayed")
		} else {
			if err := limiter.Wait(ctx); err != nil {
				return n, err
			}
			if err := w.WriteMessages(ctx, out); err != nil {
				return n, fmt.Errorf("dlq replay: write to %s: %w", opts.InputTopic, err)
			}
			n++
			if opts.Replayed != nil {
				dl, _ := decodeDeadLetter(m)
				opts.Replayed(dl)
			}
		}
		if err := r.CommitMessages(ctx, m); err != nil {
			return n, fmt.Errorf("dlq replay: commit %s/%d@%d: %w", m.Topic, m.Partition, m.Offset, err)
		}
	}
	return n, nil
}

// replayRecord rebuilds the original record from a dead letter.
func replayRecord(m kafka.Message, input string) (kafka.Message, error) {
	var dl schema.DeadLetter
	if err := json.Unmarshal(m.Value, &dl); err != nil || dl.Reason == "" {
		return kafka.Message{}, fmt.Errorf("not a dead letter: %v", err)
	}
	body, err := dl.Original()
	if err != nil {
		return kafka.Message{}, fmt.Errorf("cannot rebuild the original: %w", err)
	}
	out := kafka.Message{Topic: input, Key: m.Key, Value: body}
	for _, h := range m.Headers {
		if h.Key != "dlq_reason" && h.Key != "Dlq-Reason" {
			out.Headers = append(out.Headers, h)
		}
	}
	return out, nil
}
