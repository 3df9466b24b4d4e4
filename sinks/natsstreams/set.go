package natsstreams

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/reten/reten-relay/schema/subjects"
)

// Target is where one concrete subject goes.
type Target struct {
	// Stream captures the subject: publish and wait for its PubAck. "" means core NATS.
	Stream string
}

// Set keeps the decisions for a fixed list of needs on one connection. Classify answers
// from memory (a match of the subject against the needs and the streams' filters, so the
// cost and the memory do not grow with the number of concrete subjects); the decisions
// are made again (Ensure, which may create streams) after Reset, after a reconnect, and
// when they are older than the refresh interval. Safe for concurrent use.
type Set struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	needs   []Need
	limits  Limits
	refresh time.Duration
	log     zerolog.Logger

	ensureMu sync.Mutex // one Ensure at a time

	mu         sync.RWMutex
	gen        uint64 // counts Resets, so one that lands during an Ensure is not lost
	valid      bool
	expires    time.Time
	reconnects uint64
	decisions  []Decision
	streams    []Stream
	said       map[string]string // purpose → last decision logged
	own        map[string]bool   // streams this Set created: their advisories are old news
}

// NewSet returns a Set that ensures needs on nc when first asked. refresh is how long a
// decision is trusted before the streams are listed again (advisories and reconnects
// usually invalidate sooner).
func NewSet(nc *nats.Conn, js jetstream.JetStream, needs []Need, limits Limits, refresh time.Duration, log zerolog.Logger) *Set {
	return &Set{nc: nc, js: js, needs: slices.Clone(needs), limits: limits, refresh: refresh, log: log, said: map[string]string{}, own: map[string]bool{}}
}

// SetNeeds replaces the needs (after a config reload changed the routes) and forgets
// every decision, so the next Classify ensures the new ones.
func (s *Set) SetNeeds(needs []Need) {
	s.ensureMu.Lock()
	defer s.ensureMu.Unlock()
	s.mu.Lock()
	s.needs = slices.Clone(needs)
	s.mu.Unlock()
	s.Reset("the routes changed")
}

// Reset forgets every decision: the next Classify lists the streams and ensures again.
// The sink calls it on "no response from stream"; advisories call it when a stream is
// created, changed or deleted.
func (s *Set) Reset(reason string) {
	s.mu.Lock()
	was := s.valid
	s.valid = false
	s.gen++
	s.mu.Unlock()
	if was {
		s.log.Info().Str("reason", reason).Msg("jetstream streams will be checked again: " + reason)
	}
}

// Classify says where subject goes, ensuring the needs first when no fresh decisions are
// held. A subject that no need declares goes to the stream that captures it; when none
// does, it is ErrNoStream (never a silent downgrade to core NATS).
func (s *Set) Classify(ctx context.Context, subject string) (Target, error) {
	if t, ok, fresh := s.lookup(subject); fresh {
		return t, s.noStream(subject, ok)
	}
	if err := s.ensure(ctx); err != nil {
		return Target{}, err
	}
	t, ok, _ := s.lookup(subject)
	return t, s.noStream(subject, ok)
}

func (s *Set) noStream(subject string, ok bool) error {
	if ok {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrNoStream, subject)
}

// Peek is Classify from memory only: ok is false when nothing fresh is known.
func (s *Set) Peek(subject string) (t Target, ok bool) {
	t, ok, fresh := s.lookup(subject)
	return t, ok && fresh
}

// lookup classifies subject against the held decisions; fresh is false when there are
// none to trust.
func (s *Set) lookup(subject string) (t Target, ok, fresh bool) {
	fresh = s.fresh()
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, d := range s.decisions {
		if !subjects.Covers(d.Need.Subject, subject) {
			continue
		}
		if !d.Core || len(d.Partial) == 0 {
			return Target{Stream: d.Stream}, true, fresh // "" for core
		}
		return Target{Stream: s.capturing(subject, d.Partial)}, true, fresh
	}
	name := s.capturing(subject, nil)
	return Target{Stream: name}, name != "", fresh
}

// fresh reports whether the held decisions may be trusted: made since the last Reset and
// reconnect, and younger than the refresh interval.
func (s *Set) fresh() bool {
	reconnects := s.nc.Stats().Reconnects
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.valid && time.Now().Before(s.expires) && reconnects == s.reconnects
}

// capturing returns the stream (of names, or of all when names is nil) whose filters
// match subject, or "".
func (s *Set) capturing(subject string, names []string) string {
	for _, st := range s.streams {
		if names != nil && !slices.Contains(names, st.Name) {
			continue
		}
		if st.captures(subject) {
			return st.Name
		}
	}
	return ""
}

// ensure makes the decisions again unless another caller just did.
func (s *Set) ensure(ctx context.Context) error {
	s.ensureMu.Lock()
	defer s.ensureMu.Unlock()
	if s.fresh() {
		return nil
	}
	reconnects := s.nc.Stats().Reconnects
	s.mu.RLock()
	gen := s.gen
	s.mu.RUnlock()
	s.mu.RLock()
	needs := s.needs
	s.mu.RUnlock()
	decisions, streams, err := ensure(ctx, s.js, needs, s.limits, s.log, func(name string) {
		s.mu.Lock()
		s.own[name] = true
		s.mu.Unlock()
	})
	if err != nil {
		return fmt.Errorf("ensure jetstream streams: %w", err)
	}
	s.mu.Lock()
	s.valid, s.expires, s.reconnects = s.gen == gen, time.Now().Add(s.refresh), reconnects
	s.decisions, s.streams = decisions, streams
	// The first decisions are what start-up already logged: say them at Debug.
	first := len(s.said) == 0
	var changed []Decision
	for _, d := range decisions {
		if text := d.String(); s.said[d.Need.Purpose] != text {
			s.said[d.Need.Purpose] = text
			changed = append(changed, d)
		}
	}
	s.mu.Unlock()
	for _, d := range changed {
		ev := s.log.Info()
		switch {
		case d.Core:
			ev = s.log.Warn() // at-most-once: always say it
		case first:
			ev = s.log.Debug()
		}
		ev.Str("subject", d.Need.Subject).Str("stream", d.Stream).Msg(d.String())
	}
	return nil
}

// Decisions returns the decisions held now (nil before the first Classify).
func (s *Set) Decisions() []Decision {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.decisions)
}

// WatchAdvisories resets the Set whenever a stream is created, updated or deleted in the
// account, so a stream deleted (or a store lost) behind the relay's back is re-created
// before the next publish. The caller unsubscribes the returned subscriptions.
func (s *Set) WatchAdvisories() ([]*nats.Subscription, error) {
	var subs []*nats.Subscription
	for _, what := range []string{"CREATED", "UPDATED", "DELETED"} {
		sub, err := s.nc.Subscribe("$JS.EVENT.ADVISORY.STREAM."+what+".*", func(m *nats.Msg) {
			name := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
			s.mu.RLock()
			ours := s.own[name]
			s.mu.RUnlock()
			if what == "CREATED" && ours {
				return // the Set made it and knows it already
			}
			s.Reset("stream " + name + " " + strings.ToLower(what))
		})
		if err != nil {
			for _, sub := range subs {
				_ = sub.Unsubscribe()
			}
			return nil, fmt.Errorf("subscribe to jetstream stream advisories: %w", err)
		}
		subs = append(subs, sub)
	}
	return subs, nil
}
