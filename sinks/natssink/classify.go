package natssink

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// How a subject is published, as Mode reports it.
const (
	// ModeJetStream means a stream captures the subject: async publish, wait for PubAcks.
	ModeJetStream = "jetstream"
	// ModeCore means no stream captures it: core publish and flush, at-most-once.
	ModeCore = "core"
)

// modeCache remembers per subject whether a stream captures it. JetStream answers are
// kept until a publish says the stream is gone; core answers expire after ttl so a
// stream created later is picked up.
type modeCache struct {
	js  jetstream.JetStream
	ttl time.Duration
	log zerolog.Logger
	now func() time.Time

	mu      sync.Mutex
	entries map[string]modeEntry
	// announced holds the "mode|stream" pairs already logged at Info.
	announced map[string]bool
}

type modeEntry struct {
	mode    string
	stream  string
	expires time.Time // zero: never
	stale   bool      // forgotten; the mode is kept so a re-check logs only on change
}

func newModeCache(js jetstream.JetStream, ttl time.Duration, log zerolog.Logger) *modeCache {
	return &modeCache{js: js, ttl: ttl, log: log, now: time.Now, entries: map[string]modeEntry{}, announced: map[string]bool{}}
}

// peek returns the subject's mode without asking the server.
func (c *modeCache) peek(subject string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.entries[subject].mode
}

// forget makes the next classify ask the server again.
func (c *modeCache) forget(subject string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[subject]; ok {
		e.stale = true
		c.entries[subject] = e
	}
}

// forgetCore makes every core subject be asked again, after a stream was created.
func (c *modeCache) forgetCore() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for subject, e := range c.entries {
		if e.mode == ModeCore {
			e.stale = true
			c.entries[subject] = e
		}
	}
}

// classify returns the subject's mode, asking JetStream when the cache has no fresh
// answer. It logs at Info when a subject's mode is first known or changes.
func (c *modeCache) classify(ctx context.Context, subject string) (string, error) {
	c.mu.Lock()
	e, ok := c.entries[subject]
	c.mu.Unlock()
	if ok && !e.stale && (e.expires.IsZero() || c.now().Before(e.expires)) {
		return e.mode, nil
	}
	next := modeEntry{mode: ModeJetStream}
	stream, err := c.js.StreamNameBySubject(ctx, subject)
	switch {
	case err == nil:
		next.stream = stream
	case errors.Is(err, jetstream.ErrStreamNotFound),
		errors.Is(err, jetstream.ErrJetStreamNotEnabled),
		errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount),
		errors.Is(err, nats.ErrNoResponders):
		// No responders: the server has no JetStream at all. The answer expires, so
		// a JetStream that was only briefly unavailable is found again.
		next.mode, next.expires = ModeCore, c.now().Add(c.ttl)
	default:
		return "", fmt.Errorf("find jetstream stream for subject %s: %w", subject, notConnected(err))
	}
	// Compare with what is stored now, not what we read before asking, so concurrent
	// classifications of one subject log it once.
	c.mu.Lock()
	prev := c.entries[subject]
	c.entries[subject] = next
	c.mu.Unlock()
	if prev.mode != next.mode || prev.stream != next.stream {
		// Subjects may hold a task id, so there can be one per task: say it at Info once
		// per stream (or once for core NATS), and per subject at Debug.
		c.mu.Lock()
		first := !c.announced[next.mode+"|"+next.stream]
		c.announced[next.mode+"|"+next.stream] = true
		c.mu.Unlock()
		ev := c.log.Debug()
		if first {
			ev = c.log.Info()
		}
		if next.mode == ModeCore {
			ev.Str("subject", subject).Str("mode", ModeCore).
				Msgf("subject %s has no JetStream stream: core NATS, at-most-once for subscribers that are not connected", subject)
		} else {
			ev.Str("subject", subject).Str("stream", stream).Str("mode", ModeJetStream).
				Msgf("subject %s is captured by JetStream stream %s: publishes wait for PubAcks", subject, stream)
		}
	}
	return next.mode, nil
}
