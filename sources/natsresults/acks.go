package natsresults

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
)

// errReconnected fails a round of acks during which the connection was replaced: an ack
// written to the old socket may never have reached the server, so it is sent again.
var errReconnected = errors.New("nats reconnected while the acks were in flight")

// ackBody is JetStream's positive ack.
var ackBody = []byte("+ACK")

const (
	// maxAckRound bounds the acks one round writes before it confirms them.
	maxAckRound = 256
	// ackRetryFor is how long an ack whose rounds keep failing is sent again; past it the
	// server redelivers the message after its ack wait, and Reten answers the repeat with 409.
	ackRetryFor = time.Minute
	// ackRetryMax caps the pause between two failed rounds.
	ackRetryMax = 2 * time.Second
)

// acker sends acks in rounds (group commit) in the background: Ack only queues the ack; the
// acks queued within AckBatchWait of the first are written together, and one PING confirms
// them all. A PONG on the same connection proves the server read every ack written before
// the PING. A round that lost its connection (or whose PING went unanswered) is sent again,
// with a growing pause, for up to a minute (issue #16 item 6: an ack dropped while NATS
// reconnects is retried). A double ack per message would confirm the same at the cost of a
// request and a reply, and a goroutine waiting, for every message; a round of up to 256 acks
// costs one write and one PONG.
//
// What a PONG does not prove: that the consumer has booked the ack (the server queues acks
// for its consumer). A server that dies in between redelivers the message; Reten answers the
// repeat with 409, as it does after any other lost ack. Likewise for the acks still queued
// when the process dies (at most AckBatchWait of them, or a minute's while NATS is away).
type acker struct {
	nc      *nats.Conn
	wait    time.Duration
	timeout time.Duration
	log     zerolog.Logger

	mu      sync.Mutex
	queue   []queuedAck
	armed   bool          // a flush is scheduled
	sending int           // rounds being written and confirmed
	fails   int           // rounds failed in a row
	changed chan struct{} // closed and replaced when a round ends, for close
}

// queuedAck is an ack waiting for its round.
type queuedAck struct {
	reply string
	since time.Time // when its first round failed; zero until then
}

func newAcker(nc *nats.Conn, wait, timeout time.Duration, log zerolog.Logger) *acker {
	return &acker{nc: nc, wait: wait, timeout: timeout, log: log, changed: make(chan struct{})}
}

// ack queues an ack for the message whose reply subject is reply.
func (a *acker) ack(reply string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.queue = append(a.queue, queuedAck{reply: reply})
	switch {
	case len(a.queue) >= maxAckRound:
		go a.flush()
	case !a.armed:
		a.armed = true
		time.AfterFunc(a.wait, a.flush)
	}
}

// flush writes what is queued as one round and confirms it; a failed round goes back to the
// queue (unless it failed for longer than ackRetryFor) and is tried again after a pause.
func (a *acker) flush() {
	a.mu.Lock()
	a.armed = false
	batch := a.queue
	a.queue = nil
	if len(batch) == 0 {
		a.mu.Unlock()
		return
	}
	a.sending++
	a.mu.Unlock()

	err := a.send(batch)

	a.mu.Lock()
	defer a.mu.Unlock()
	a.sending--
	close(a.changed)
	a.changed = make(chan struct{})
	if err == nil {
		a.fails = 0
		return
	}
	a.fails++
	now := time.Now()
	kept := make([]queuedAck, 0, len(batch)+len(a.queue))
	for _, q := range batch {
		if q.since.IsZero() {
			q.since = now
		}
		if now.Sub(q.since) < ackRetryFor {
			kept = append(kept, q)
		}
	}
	if lost := len(batch) - len(kept); lost > 0 {
		a.log.Warn().Err(err).Int("messages", lost).Msg("acks failed for a minute; these result messages will be delivered again and end as already recorded")
	} else if a.fails == 1 {
		a.log.Warn().Err(err).Int("messages", len(batch)).Msg("acking result messages failed; sending the acks again")
	}
	a.queue = append(kept, a.queue...)
	if len(a.queue) > 0 && !a.armed {
		a.armed = true
		time.AfterFunc(min(ackRetryMax, a.wait<<min(a.fails, 8)+50*time.Millisecond), a.flush)
	}
}

func (a *acker) send(batch []queuedAck) error {
	before := a.nc.Stats().Reconnects
	for _, q := range batch {
		if err := a.nc.Publish(q.reply, ackBody); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	if err := a.nc.FlushWithContext(ctx); err != nil {
		return err
	}
	// Reconnects grows before a new connection sends what was buffered, so a PING answered
	// on a new connection is always seen here.
	if a.nc.Stats().Reconnects != before {
		return errReconnected
	}
	return nil
}

// close sends what is queued and waits until every round is confirmed (or given up), or
// ctx ends.
func (a *acker) close(ctx context.Context) error {
	for {
		a.mu.Lock()
		idle := len(a.queue) == 0 && a.sending == 0
		changed := a.changed
		start := len(a.queue) > 0 && a.sending == 0
		a.mu.Unlock()
		if idle {
			return nil
		}
		if start {
			go a.flush()
		}
		select {
		case <-changed:
		case <-time.After(a.wait + 50*time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
