package natsresults

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/reten/reten-relay/sinks/natsstreams"
)

// ensureStream binds to the one stream that captures cfg.Subjects, or creates cfg.Stream
// (a work queue bounded by cfg.StreamLimits) when none does. The decision is natsstreams',
// the same one the relay makes for its task routes, dead letters and outcomes: an existing
// stream is never changed, one that captures the subjects only in part or a same-name
// stream with other subjects is an error, and a failed creation leaves nothing behind.
func ensureStream(ctx context.Context, js jetstream.JetStream, cfg Config, log zerolog.Logger) (string, error) {
	needs := make([]natsstreams.Need, len(cfg.Subjects))
	for i, subj := range cfg.Subjects {
		needs[i] = natsstreams.Need{Purpose: "results input " + subj, Subject: subj, Stream: cfg.Stream, Kind: natsstreams.Input}
	}
	decisions, _, err := natsstreams.Ensure(ctx, js, needs, cfg.StreamLimits, log)
	if errors.Is(err, natsstreams.ErrConflict) {
		return "", fmt.Errorf("%w: %w", ErrStreamConflict, err)
	}
	if err != nil {
		return "", fmt.Errorf("bind results input %v: %w", cfg.Subjects, err)
	}
	var names []string
	created := false
	for _, d := range decisions {
		if !slices.Contains(names, d.Stream) {
			names = append(names, d.Stream)
		}
		created = created || d.Created
	}
	if len(names) != 1 {
		return "", fmt.Errorf("%w: %v capture %v", ErrStreamConflict, names, cfg.Subjects)
	}
	if !created {
		log.Info().Str("stream", names[0]).Strs("subjects", cfg.Subjects).Msg("bound to existing stream " + names[0])
	}
	return names[0], nil
}

// watchBinding binds the source again after every reconnect, until it is closed: a server
// that came back with an empty store (a lost volume, a new cluster) has neither the stream
// nor the durable, and a pull on the old consumer would wait forever. Binding again
// re-creates what is missing (ensureStream, ensureConsumer) and changes nothing that exists.
func (s *Source) watchBinding(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	seen := s.nc.Stats().Reconnects
	for range t.C {
		now := s.nc.Stats().Reconnects
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return
		}
		if now != seen {
			// The pull in flight ends; the next Receive binds.
			if s.pull != nil {
				s.pull.drop()
			}
			s.pull, s.cons = nil, nil
			s.log.Info().Str("stream", s.stream).Msg("reconnected to nats: binding the results input again")
		}
		s.mu.Unlock()
		seen = now
	}
}

// ensureConsumer binds to the durable consumer, or creates a durable pull consumer with
// explicit acks when it does not exist. An existing consumer's configuration is never
// changed.
func ensureConsumer(ctx context.Context, js jetstream.JetStream, stream string, cfg Config, log zerolog.Logger) (jetstream.Consumer, error) {
	c, err := js.Consumer(ctx, stream, cfg.Durable)
	if err == nil {
		log.Info().Str("stream", stream).Str("durable", cfg.Durable).Msg("bound to existing durable consumer " + cfg.Durable)
		return c, nil
	}
	if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("look up consumer %s on stream %s: %w", cfg.Durable, stream, err)
	}
	cc := jetstream.ConsumerConfig{
		Durable:       cfg.Durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		MaxAckPending: cfg.MaxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	if len(cfg.Subjects) == 1 {
		cc.FilterSubject = cfg.Subjects[0]
	} else {
		cc.FilterSubjects = cfg.Subjects
	}
	c, err = js.CreateConsumer(ctx, stream, cc)
	if errors.Is(err, jetstream.ErrConsumerExists) {
		// Another relay created it first: bind to theirs.
		c, err = js.Consumer(ctx, stream, cfg.Durable)
	}
	if err != nil {
		return nil, fmt.Errorf("create durable consumer %s on stream %s: %w", cfg.Durable, stream, err)
	}
	log.Info().Str("stream", stream).Str("durable", cfg.Durable).Stringer("ack_wait", cfg.AckWait).
		Int("max_ack_pending", cfg.MaxAckPending).Msg("created durable consumer " + cfg.Durable)
	return c, nil
}
