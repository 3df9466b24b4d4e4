package natsresults

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// streamCapturing returns the name of the one stream that captures subjects, "" when
// none does, and ErrStreamConflict when they are spread over several streams.
func streamCapturing(ctx context.Context, js jetstream.JetStream, subjects []string) (string, error) {
	var found []string
	for _, subj := range subjects {
		name, err := js.StreamNameBySubject(ctx, subj)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("look up the stream for %s: %w", subj, err)
		}
		if !slices.Contains(found, name) {
			found = append(found, name)
		}
	}
	switch len(found) {
	case 0:
		return "", nil
	case 1:
		return found[0], nil
	default:
		return "", fmt.Errorf("%w: %v capture %v", ErrStreamConflict, found, subjects)
	}
}

// ensureStream binds to the stream capturing cfg.Subjects, or creates one when none does.
// An existing stream's configuration is never changed.
func ensureStream(ctx context.Context, js jetstream.JetStream, cfg Config, log zerolog.Logger) (string, error) {
	name, err := streamCapturing(ctx, js, cfg.Subjects)
	if err != nil {
		return "", err
	}
	if name != "" {
		log.Info().Str("stream", name).Strs("subjects", cfg.Subjects).Msg("bound to existing stream " + name)
		return name, nil
	}
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{
		Name:     cfg.Stream,
		Subjects: cfg.Subjects,
		Storage:  jetstream.FileStorage,
	})
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		// Another relay created it between our look-up and now, or a stream of that name
		// exists for other subjects; either way it is not ours to change.
		if name, lerr := streamCapturing(ctx, js, cfg.Subjects); lerr == nil && name != "" {
			log.Info().Str("stream", name).Strs("subjects", cfg.Subjects).Msg("bound to existing stream " + name)
			return name, nil
		}
		return "", fmt.Errorf("create stream %s for %v: a stream of that name exists but does not capture the subjects: %w", cfg.Stream, cfg.Subjects, err)
	}
	if err != nil {
		return "", fmt.Errorf("create stream %s for %v: %w", cfg.Stream, cfg.Subjects, err)
	}
	log.Info().Str("stream", cfg.Stream).Strs("subjects", cfg.Subjects).Msgf("created stream %s for subjects %v", cfg.Stream, cfg.Subjects)
	return cfg.Stream, nil
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
	log.Info().Str("stream", stream).Str("durable", cfg.Durable).Dur("ack_wait", cfg.AckWait).
		Int("max_ack_pending", cfg.MaxAckPending).Msg("created durable consumer " + cfg.Durable)
	return c, nil
}
