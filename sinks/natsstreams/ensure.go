package natsstreams

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// Limits bound the streams the relay creates; existing streams are never changed.
type Limits struct {
	// MaxAge drops messages older than this. Default: 168h (7 days).
	MaxAge time.Duration
	// MaxBytes caps a stream's size. Default: 1 GiB.
	MaxBytes int64
	// Replicas is the stream's replica count (1 on a single server). Default: 1.
	Replicas int
	// Memory keeps the stream in memory instead of on disk. Default: false (file).
	Memory bool
	// Duplicates is the window in which a repeated Nats-Msg-Id is dropped. Default: 2m.
	Duplicates time.Duration
}

// DefaultLimits are the limits of the zero Limits.
func DefaultLimits() Limits {
	return Limits{MaxAge: 7 * 24 * time.Hour, MaxBytes: 1 << 30, Replicas: 1, Duplicates: 2 * time.Minute}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxAge == 0 {
		l.MaxAge = d.MaxAge
	}
	if l.MaxBytes == 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.Replicas == 0 {
		l.Replicas = d.Replicas
	}
	if l.Duplicates == 0 {
		l.Duplicates = d.Duplicates
	}
	return l
}

// config is the JetStream config of a stream the relay creates.
func (l Limits) config(c Create) jetstream.StreamConfig {
	l = l.withDefaults()
	sc := jetstream.StreamConfig{
		Name: c.Name, Subjects: c.Subjects, MaxAge: l.MaxAge, MaxBytes: l.MaxBytes,
		Replicas: l.Replicas, Duplicates: min(l.Duplicates, l.MaxAge), Storage: jetstream.FileStorage,
		Retention: jetstream.LimitsPolicy, Discard: jetstream.DiscardOld,
		Metadata: map[string]string{OwnerKey: "created by reten-relay; it may add subjects to this stream"},
	}
	if l.Memory {
		sc.Storage = jetstream.MemoryStorage
	}
	if c.Kind == DeadLetters {
		sc.Discard = jetstream.DiscardNew
	}
	return sc
}

// List reads every stream's name and subject filters, once.
func List(ctx context.Context, js jetstream.JetStream) ([]Stream, error) {
	var out []Stream
	l := js.ListStreams(ctx)
	for info := range l.Info() {
		_, ours := info.Config.Metadata[OwnerKey]
		out = append(out, Stream{Name: info.Config.Name, Subjects: info.Config.Subjects, Ours: ours})
	}
	if err := l.Err(); err != nil {
		return nil, fmt.Errorf("list jetstream streams: %w", err)
	}
	return out, nil
}

// Ensure plans needs against the streams that exist and creates the streams the plan
// wants. It is all or nothing: when a creation fails, the streams this call created (and
// that are still empty) are deleted again. It returns the decisions and the streams as
// they now are.
func Ensure(ctx context.Context, js jetstream.JetStream, needs []Need, limits Limits, log zerolog.Logger) ([]Decision, []Stream, error) {
	return ensure(ctx, js, needs, limits, log, nil)
}

// ensure is Ensure with a hook told each stream's name just before it is created.
func ensure(ctx context.Context, js jetstream.JetStream, needs []Need, limits Limits, log zerolog.Logger, onCreate func(string)) ([]Decision, []Stream, error) {
	for attempt := 0; ; attempt++ {
		streams, err := List(ctx, js)
		if err != nil {
			return nil, nil, err
		}
		plan, err := Plan(streams, needs)
		if err != nil {
			return nil, nil, err
		}
		created, err := create(ctx, js, Creates(plan), limits, log, onCreate)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) && attempt == 0 {
			// Another relay created it between our look and now: plan again with theirs.
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		for i := range plan {
			plan[i].Created, plan[i].Create = plan[i].Create, false
		}
		return plan, append(streams, created...), nil
	}
}

// change is one stream created or extended, and how to take it back.
type change struct {
	name string
	// before is the config of an extended stream before its subjects were added; nil for
	// a created stream.
	before *jetstream.StreamConfig
}

// create creates (or extends) every stream, or none: on failure it takes back what it did.
func create(ctx context.Context, js jetstream.JetStream, creates []Create, limits Limits, log zerolog.Logger, onCreate func(string)) ([]Stream, error) {
	var (
		done []change
		made []Stream
	)
	for _, c := range creates {
		if onCreate != nil {
			onCreate(c.Name)
		}
		if c.Extend {
			before, subjects, err := extend(ctx, js, c)
			if err != nil {
				undo(js, done, log)
				return nil, err
			}
			done = append(done, change{name: c.Name, before: before})
			made = append(made, Stream{Name: c.Name, Subjects: subjects, Ours: true})
			log.Info().Str("stream", c.Name).Strs("subjects", subjects).Msgf("added %v to the relay's stream %s", c.Subjects, c.Name)
			continue
		}
		sc := limits.config(c)
		if err := createStream(ctx, js, sc); err != nil {
			undo(js, done, log)
			return nil, fmt.Errorf("create stream %s for %v: %w", c.Name, c.Subjects, err)
		}
		done = append(done, change{name: c.Name})
		made = append(made, Stream{Name: c.Name, Subjects: c.Subjects, Ours: true})
		log.Info().Str("stream", c.Name).Strs("subjects", c.Subjects).Stringer("max_age", sc.MaxAge).
			Int64("max_bytes", sc.MaxBytes).Int("replicas", sc.Replicas).Str("storage", sc.Storage.String()).
			Str("retention", sc.Retention.String()).Msgf("created jetstream stream %s for %v", c.Name, c.Subjects)
	}
	return made, nil
}

// errCodeStoreFailed is the server's "error creating store for stream" (JSStreamStoreFailedF).
const errCodeStoreFailed jetstream.ErrorCode = 10049

// createStream creates one stream, trying again for a short while when the server could
// not make its storage. nats-server removes an account's streams directory in the background
// after its last stream is deleted, so a stream created right after (a set-up undone and
// tried again, a restart after a failed start) can lose that race; a real storage problem
// still fails within seconds.
func createStream(ctx context.Context, js jetstream.JetStream, sc jetstream.StreamConfig) error {
	retry := backoff.WithContext(backoff.WithMaxRetries(backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(20*time.Millisecond), backoff.WithMaxInterval(time.Second)), 6), ctx)
	return backoff.Retry(func() error {
		_, err := js.CreateStream(ctx, sc)
		var apiErr *jetstream.APIError
		if err != nil && !(errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeStoreFailed) {
			return backoff.Permanent(err)
		}
		return err
	}, retry)
}

// extend adds c.Subjects to the relay's own stream, changing nothing else.
func extend(ctx context.Context, js jetstream.JetStream, c Create) (*jetstream.StreamConfig, []string, error) {
	st, err := js.Stream(ctx, c.Name)
	if err != nil {
		return nil, nil, fmt.Errorf("look up stream %s: %w", c.Name, err)
	}
	before := st.CachedInfo().Config
	sc := before
	sc.Subjects = append(slices.Clone(before.Subjects), c.Subjects...)
	if _, err := js.UpdateStream(ctx, sc); err != nil {
		return nil, nil, fmt.Errorf("add %v to stream %s: %w", c.Subjects, c.Name, err)
	}
	return &before, sc.Subjects, nil
}

// undo takes back what a failed Ensure did, so a failed start-up leaves nothing
// half-made: created streams are deleted (unless one already holds messages: another relay
// raced us to an identical one and uses it), extended ones get their subjects back.
func undo(js jetstream.JetStream, done []change, log zerolog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range done {
		var err error
		if c.before != nil {
			_, err = js.UpdateStream(ctx, *c.before)
		} else {
			var st jetstream.Stream
			if st, err = js.Stream(ctx, c.name); err == nil && st.CachedInfo().State.Msgs > 0 {
				continue
			}
			if err == nil {
				err = js.DeleteStream(ctx, c.name)
			}
		}
		if err != nil {
			log.Warn().Err(err).Str("stream", c.name).Msg("could not take back what a failed stream set-up did to this stream")
			continue
		}
		log.Info().Str("stream", c.name).Msg("took back what a failed stream set-up did to this stream")
	}
}

// Permanent reports whether an Ensure error needs the operator (a conflict, or a stream
// the server refuses) rather than time (a connection or JetStream not up yet).
func Permanent(err error) bool {
	if errors.Is(err, ErrConflict) {
		return true
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		// 503s (JetStream not enabled yet, temporarily unavailable) pass with time.
		return apiErr.Code != 503 && apiErr.Code != 408
	}
	return false
}
