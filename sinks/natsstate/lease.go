package natsstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// Lease is the poller lease: the key "lease" names the holder (its replica name and a term
// id drawn at each acquisition) and carries a per-message TTL of LeaseTTL, so the server
// removes it when the holder stops renewing. Every write of it expects the key's last
// revision, so of several relays racing for a free lease exactly one wins, and a renewal
// or a state commit by a relay that lost the lease fails.
//
// Timing, with T = LeaseTTL: the holder renews every T/4 and counts its lease as valid for
// 3T/4 from the moment it *sent* its last successful write; the server expires the key T
// after it *received* it. So a holder that cannot renew stops polling and publishing at
// least T/4 before anybody else can take over, whatever the network delay. Followers look
// at the key every T/10; one that sees the same revision for a whole T (by its own clock,
// for buckets without per-message TTLs) also counts it as expired.
type Lease struct {
	s   *Store
	ttl time.Duration

	mu         sync.Mutex // serialises every write carrying the fence
	held       bool
	term       string
	rev        uint64    // the lease key's revision as we last wrote it
	validUntil time.Time // no writing or publishing from here on

	seenRev uint64    // follower: the revision last seen,
	seenAt  time.Time // and since when
	holder  string    // who holds the lease as far as we know; guarded by mu
}

type leaseValue struct {
	Replica string `json:"replica"`
	Term    string `json:"term"`
}

func newLease(s *Store) *Lease { return &Lease{s: s, ttl: s.cfg.LeaseTTL} }

func (l *Lease) renewEvery() time.Duration { return l.ttl / 4 }
func (l *Lease) validFor() time.Duration   { return l.ttl * 3 / 4 }
func (l *Lease) pollEvery() time.Duration  { return l.ttl / 10 }

// Holding reports whether this relay holds the lease and may still act on it.
func (l *Lease) Holding() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.validLocked()
}

func (l *Lease) validLocked() bool { return l.held && time.Now().Before(l.validUntil) }

// Holder is the replica holding the lease as far as this relay knows ("" when none).
func (l *Lease) Holder() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.holder
}

func (l *Lease) subject() string { return l.s.subject(keyLease) }

// message is a write of the lease key that expects revision last: what KeyValue.Update
// does (a stale revision fails with the server's "wrong last sequence", which the store
// reports as jetstream.ErrKeyRevisionMismatch), plus the per-message TTL that Update would
// drop.
func (l *Lease) message(last uint64, term string) *nats.Msg {
	v, _ := json.Marshal(leaseValue{Replica: l.s.cfg.Replica, Term: term}) // cannot fail
	m := &nats.Msg{Subject: l.subject(), Data: v, Header: header(jetstream.ExpectedLastSubjSeqHeader, fmt.Sprint(last))}
	if l.s.ttl {
		m.Header.Set(jetstream.MsgTTLHeader, l.ttl.String())
	}
	return m
}

// read returns the lease key's last revision (0: never written), its value, and whether
// it is free (never written, deleted, or expired).
func (l *Lease) read(ctx context.Context) (uint64, leaseValue, bool, error) {
	m, err := l.s.str.GetLastMsgForSubject(ctx, l.subject())
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, leaseValue{}, true, nil
	}
	if err != nil {
		return 0, leaseValue{}, false, fmt.Errorf("read the lease: %w", err)
	}
	if isMarker(m.Header) {
		return m.Sequence, leaseValue{}, true, nil
	}
	var v leaseValue
	if err := json.Unmarshal(m.Data, &v); err != nil {
		return m.Sequence, leaseValue{}, false, fmt.Errorf("lease value: %w: %w", ErrCorrupt, err)
	}
	return m.Sequence, v, false, nil
}

// TryAcquire takes the lease if it is free, and reports whether this relay holds it now.
func (l *Lease) TryAcquire(ctx context.Context) (bool, error) {
	last, v, free, err := l.read(ctx)
	if err != nil {
		return false, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held {
		return l.validLocked(), nil
	}
	now := time.Now()
	if !free {
		l.holder = v.Replica
		if l.seenRev != last {
			l.seenRev, l.seenAt = last, now
			return false, nil
		}
		if now.Sub(l.seenAt) < l.ttl {
			return false, nil
		}
		// The same revision for a whole TTL: its holder is gone even if the bucket does
		// not expire keys by itself.
	} else {
		l.holder = ""
	}
	term := nuid.Next()
	ack, err := l.s.js.PublishMsg(ctx, l.message(last, term))
	if isCode(err, codeWrongLastSeq) {
		return false, nil // another relay was faster
	}
	if err != nil {
		return false, fmt.Errorf("take the lease: %w", err)
	}
	l.held, l.term, l.rev, l.validUntil, l.holder = true, term, ack.Sequence, now.Add(l.validFor()), l.s.cfg.Replica
	return true, nil
}

// renew writes the lease again, expecting our last revision.
func (l *Lease) renew(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.validLocked() {
		return ErrNotHolder
	}
	sent := time.Now()
	ack, err := l.s.js.PublishMsg(ctx, l.message(l.rev, l.term))
	if err != nil {
		return l.failedLocked(ctx, err)
	}
	l.rev, l.validUntil = ack.Sequence, sent.Add(l.validFor())
	return nil
}

// failedLocked handles a refused write of the lease: when the key moved on under another
// term, the lease is lost; when it still holds our term (an earlier write whose answer
// was lost did land), its revision is adopted and the caller may retry.
func (l *Lease) failedLocked(ctx context.Context, err error) error {
	if !isCode(err, codeWrongLastSeq) {
		return fmt.Errorf("renew the lease: %w", err)
	}
	rev, v, free, rerr := l.read(ctx)
	if rerr == nil && !free && v.Term == l.term {
		l.rev = rev
		return fmt.Errorf("lease revision moved under our own term; retry: %w", err)
	}
	l.held = false
	if rerr == nil && !free {
		l.holder = v.Replica
	}
	return fmt.Errorf("%w: %w (%w)", ErrNotHolder, jetstream.ErrKeyRevisionMismatch, err)
}

// fenced sends msgs as one atomic batch behind a write of the lease that expects our last
// revision: the batch is stored whole only while we hold the lease, and renews it. It
// returns the stream sequence of msgs[0].
func (l *Lease) fenced(ctx context.Context, msgs []*nats.Msg) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.validLocked() {
		return 0, ErrNotHolder
	}
	sent := time.Now()
	first, err := l.s.sendBatch(ctx, append([]*nats.Msg{l.message(l.rev, l.term)}, msgs...))
	if err != nil {
		return 0, l.failedLocked(ctx, err)
	}
	l.rev, l.validUntil = first, sent.Add(l.validFor())
	return first + 1, nil
}

// Release gives the lease up at once (rather than letting it expire), so a follower takes
// over without waiting for the TTL.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.held {
		return nil
	}
	l.held = false
	l.holder = ""
	return l.s.kv.Delete(ctx, keyLease, jetstream.LastRevision(l.rev))
}
