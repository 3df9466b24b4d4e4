package natssink

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// EnsureStream creates the stream spec describes when no stream of that name exists. An
// existing stream is used as it is: its config is never changed, even if it differs.
func (s *Sink) EnsureStream(ctx context.Context, spec StreamSpec) error {
	if err := spec.Validate(); err != nil {
		return fmt.Errorf("ensure stream: %w", err)
	}
	if spec.Duplicates == 0 {
		spec.Duplicates = defaultDuplicates
	}
	_, err := s.js.Stream(ctx, spec.Name)
	if err == nil {
		return nil
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("look up stream %s: %w", spec.Name, err)
	}
	_, err = s.js.CreateStream(ctx, jetstream.StreamConfig{
		Name:       spec.Name,
		Subjects:   spec.Subjects,
		Duplicates: spec.Duplicates,
		MaxAge:     spec.MaxAge,
		Storage:    jetstream.FileStorage,
	})
	if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return fmt.Errorf("create stream %s for %v: %w", spec.Name, spec.Subjects, err)
	}
	s.log.Info().Str("stream", spec.Name).Strs("subjects", spec.Subjects).Msg("created jetstream stream")
	s.modes.forgetCore()
	return nil
}
