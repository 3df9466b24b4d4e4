// Package natsstreams is the one owner of the relay's JetStream stream policy. For every
// subject the relay publishes to or reads from (a Need) it decides: a stream already
// captures it → publish with PubAck into it (or bind to it) and never change it; none does
// → create the relay's own, bounded stream (or, only where a Need allows it, use core
// NATS). Plan is that decision as a pure function of the streams that exist; Ensure applies
// it (all or nothing); Set keeps it for a running sink and classifies concrete subjects
// against the streams' subject filters in memory, re-ensuring after faults.
package natsstreams

import (
	"fmt"
	"slices"
	"strings"

	"github.com/reten/reten-relay/schema/subjects"
)

// Kind is what a Need's messages are; it shapes a stream the relay creates for them.
type Kind int

const (
	// Events are task events and outcomes: a log for subscribers; a full stream drops its
	// oldest messages.
	Events Kind = iota
	// DeadLetters must not vanish: a full stream refuses new messages (the publish fails and
	// is retried) instead of dropping old ones.
	DeadLetters
	// Input is the results input. Its stream keeps limits retention (not a work queue:
	// operators can still read it, and a re-created durable starts from its beginning),
	// bounded by max_age and max_bytes; max_age must stay well above results.backoff.max_elapsed.
	Input
)

// Need is one subject the relay publishes to or reads from.
type Need struct {
	// Purpose names the need in logs and errors, e.g. "route all-tasks", "results.dead_letter".
	Purpose string
	// Subject is concrete or a pattern with '*' and '>' (a route template's StreamSubject).
	Subject string
	// Stream is the name of the stream created when no stream captures Subject.
	Stream string
	// Kind shapes the stream created for it.
	Kind Kind
	// Core allows plain core NATS (at-most-once) instead of creating Stream when no stream
	// captures Subject. Only task routes may set it; dead letters, outcomes and the results
	// input always need a PubAck.
	Core bool
}

// Stream is an existing stream as the policy sees it: a name and its subject filters.
type Stream struct {
	Name     string
	Subjects []string
	// Ours: the relay created it (metadata OwnerKey). Only such a stream may gain a
	// subject (a reloaded route); no existing subject or limit of any stream is changed.
	Ours bool
}

// OwnerKey is the stream metadata key that marks a stream the relay created.
const OwnerKey = "reten-relay"

// captures reports whether one of the stream's filters holds every subject of pattern.
func (s Stream) captures(pattern string) bool {
	return slices.ContainsFunc(s.Subjects, func(f string) bool { return subjects.Covers(f, pattern) })
}

func (s Stream) overlaps(pattern string) bool {
	return slices.ContainsFunc(s.Subjects, func(f string) bool { return subjects.Overlap(f, pattern) })
}

// Decision is what the relay does for one Need.
type Decision struct {
	Need Need
	// Stream captures Need.Subject: publishes wait for its PubAck. "" with Core.
	Stream string
	// Create says Stream does not capture the subject yet: Ensure creates the stream, or
	// adds the subject to it when Extend says the relay's own stream exists.
	Create bool
	// Extend: Stream exists and is the relay's own; the subject is added to it.
	Extend bool
	// Created says Ensure created Stream for this need (Create is false then).
	Created bool
	// Core: no stream captures (all of) the subject and the Need allows core NATS.
	Core bool
	// Partial lists the streams that capture part of a Core need's subject; subjects they
	// capture still go to JetStream.
	Partial []string
}

// String says the decision the way `check` and the start-up log print it.
func (d Decision) String() string {
	switch {
	case d.Core && len(d.Partial) > 0:
		return fmt.Sprintf("%s: %s is captured in part by %s; the rest goes out as core NATS (at-most-once)", d.Need.Purpose, d.Need.Subject, strings.Join(d.Partial, ", "))
	case d.Core:
		return fmt.Sprintf("%s: no stream captures %s: core NATS (at-most-once)", d.Need.Purpose, d.Need.Subject)
	case d.Create && d.Extend:
		return fmt.Sprintf("%s: no stream captures %s: it will be added to the relay's stream %s", d.Need.Purpose, d.Need.Subject, d.Stream)
	case d.Create:
		return fmt.Sprintf("%s: no stream captures %s: stream %s will be created", d.Need.Purpose, d.Need.Subject, d.Stream)
	case d.Created:
		return fmt.Sprintf("%s: no stream captured %s: created stream %s", d.Need.Purpose, d.Need.Subject, d.Stream)
	}
	return fmt.Sprintf("%s: %s is captured by stream %s", d.Need.Purpose, d.Need.Subject, d.Stream)
}

// Plan decides every need against the streams that exist, without changing anything. It
// returns ErrConflict when a need cannot be met without touching a stream that is not the
// relay's: a subject captured only in part, a stream of the wanted name with other
// subjects, or two streams to create that would overlap.
func Plan(streams []Stream, needs []Need) ([]Decision, error) {
	out := make([]Decision, len(needs))
	var uncaptured []int
	for i, n := range needs {
		out[i].Need = n
		if at := slices.IndexFunc(streams, func(s Stream) bool { return s.captures(n.Subject) }); at >= 0 {
			out[i].Stream = streams[at].Name
			continue
		}
		var partial []string
		for _, s := range streams {
			if s.overlaps(n.Subject) {
				partial = append(partial, s.Name)
			}
		}
		switch {
		case n.Core:
			out[i].Core, out[i].Partial = true, partial
		case len(partial) > 0:
			return nil, fmt.Errorf("%w: %s: %s is captured only in part by stream %s (subjects %s): make one stream capture all of %s, or none",
				ErrConflict, n.Purpose, n.Subject, partial[0], strings.Join(subjectsOf(streams, partial[0]), ", "), n.Subject)
		default:
			uncaptured = append(uncaptured, i)
		}
	}
	return out, planCreates(streams, out, uncaptured)
}

// planCreates assigns every uncaptured need to a stream to create: the stream of a wider
// uncaptured subject that holds it, else its own Need.Stream.
func planCreates(streams []Stream, out []Decision, uncaptured []int) error {
	for _, i := range uncaptured {
		n := out[i].Need
		widest := i
		for _, j := range uncaptured {
			a, b := out[j].Need.Subject, out[widest].Need.Subject
			// Wider, or the same subject needed earlier: one stream holds both.
			if subjects.Covers(a, b) && (!subjects.Covers(b, a) || j < widest) {
				widest = j
			}
		}
		out[i].Stream, out[i].Create = out[widest].Need.Stream, true
		if at := slices.IndexFunc(streams, func(s Stream) bool { return s.Name == out[i].Stream }); at >= 0 && streams[at].Ours {
			out[i].Extend = true
		} else if at >= 0 {
			return fmt.Errorf("%w: %s: stream %s exists with subjects %s and does not capture %s: add %s to it, or let another stream capture it",
				ErrConflict, n.Purpose, out[i].Stream, strings.Join(streams[at].Subjects, ", "), n.Subject, n.Subject)
		}
	}
	for _, i := range uncaptured {
		for _, j := range uncaptured {
			a, b := out[i].Need.Subject, out[j].Need.Subject
			if subjects.Overlap(a, b) && !subjects.Covers(a, b) && !subjects.Covers(b, a) {
				return fmt.Errorf("%w: %s (%s) and %s (%s) overlap without one holding the other: no stream can be created for both",
					ErrConflict, out[i].Need.Purpose, a, out[j].Need.Purpose, b)
			}
		}
	}
	return nil
}

// Creates returns the streams a plan creates, each with the subjects it must capture
// (narrower subjects a wider one holds left out) and the kind of its first need.
func Creates(plan []Decision) []Create {
	var out []Create
	for _, d := range plan {
		if !d.Create {
			continue
		}
		at := slices.IndexFunc(out, func(c Create) bool { return c.Name == d.Stream })
		if at < 0 {
			out = append(out, Create{Name: d.Stream, Kind: d.Need.Kind, Extend: d.Extend})
			at = len(out) - 1
		}
		c := &out[at]
		if slices.ContainsFunc(c.Subjects, func(s string) bool { return subjects.Covers(s, d.Need.Subject) }) {
			continue
		}
		c.Subjects = slices.DeleteFunc(c.Subjects, func(s string) bool { return subjects.Covers(d.Need.Subject, s) })
		c.Subjects = append(c.Subjects, d.Need.Subject)
	}
	return out
}

// Create is a stream a plan creates.
type Create struct {
	Name     string
	Subjects []string
	Kind     Kind
	// Extend: the relay's own stream exists; Subjects are added to it.
	Extend bool
}

func subjectsOf(streams []Stream, name string) []string {
	for _, s := range streams {
		if s.Name == name {
			return s.Subjects
		}
	}
	return nil
}
