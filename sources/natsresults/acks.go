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

// errNotWritten fails a round whose acks the connection would not take (closed, or its
// reconnect buffer full).
var errNotWritten = errors.New("nats did not take the acks")

// ackBody is JetStream's positive ack.
var ackBody = []byte("+ACK")

const (
	// ackRetryFor is how long an ack whose rounds keep failing is sent again; past it the
	// server redelivers the message after its ack wait, and Reten answers the repeat with 409.
	ackRetryFor = time.Minute
	// ackRetryMax caps the pause between two failed rounds.
	ackRetryMax = 2 * time.Second
)

// acker writes each ack at once and confirms them in rounds (group commit) in the
// background: the acks written within AckBatchWait of the first are confirmed by one PING.
// A PONG on the same connection proves the server read every ack written before the PING.
// An ack whose connection was replaced after it was written (it may never have reached the
// server), or whose round's PING went unanswered, is written again and confirmed in a later
// round, with a growing pause, for up to a minute (issue #16 item 6: an ack dropped while
// NATS reconnects is retried).
//
// Why write at once and confirm later: the ack goes out with the work that produced it (the
// worker that heard from Reten publishes it, and the connection's flusher writes it right
// away), as a plain consumer's ack does. A round that wrote its acks from a timer of its own,
// and waited for its PONG, woke an idle process twice more per round (with the hand-off
// Source.Push saves, that made a result cost a third more CPU at concurrency 8; see the
// README's results performance). A double ack per message would
// confirm the same at the cost of a request, a reply and a goroutine waiting per message.
//
// What a PONG does not prove: that the consumer has booked the ack (the server queues acks
// for its consumer). A server that dies in between redelivers the message; Reten answers the
// repeat with 409, as it does after any other lost ack. Likewise for acks not yet confirmed
// when the process dies (at most AckBatchWait of them, or a minute's while NATS is away).
type acker struct {
	nc      *nats.Conn
	wait    time.Duration
	timeout time.Duration
	log     zerolog.Logger

	mu      sync.Mutex
	queue   []queuedAck   // written (or not: see written) and not yet confirmed
	armed   bool          // a round is scheduled
	sending int           // rounds being confirmed
	fails   int           // rounds failed in a row
	changed chan struct{} // closed and replaced when a round ends, for close
}

// queuedAck is an ack waiting for its confirmation.
type queuedAck struct {
	reply      string
	written    bool      // published on the connection the Reconnects count below names
	reconnects uint64    // the connection's Reconnects count when it was written
	since      time.Time // when its first round failed; zero until then
}

func newAcker(nc *nats.Conn, wait, timeout time.Duration, log zerolog.Logger) *acker {
	return &acker{nc: nc, wait: wait, timeout: timeout, log: log, changed: make(chan struct{})}
}

// ack writes the ack for the message whose reply subject is reply and queues it for the
// next round's confirmation. A failed write is tried again by the round.
func (a *acker) ack(reply string) {
	q := a.write(queuedAck{reply: reply})
	a.mu.Lock()
	defer a.mu.Unlock()
	a.queue = append(a.queue, q)
	if !a.armed {
		a.armed = true
		time.AfterFunc(a.wait, a.flush)
	}
}

// write publishes q's ack, noting on which connection.
func (a *acker) write(q queuedAck) queuedAck {
	// Read before the publish: a reconnect in between makes the ack count as not
	// confirmed by this connection, so it is written again (a repeated ack is harmless).
	q.reconnects = a.nc.Stats().Reconnects
	q.written = a.nc.Publish(q.reply, ackBody) == nil
	return q
}

// flush confirms what is queued as one round; a failed round goes back to the queue (unless
// it failed for longer than ackRetryFor) and is tried again after a pause.
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

	err := a.confirm(batch)

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
			q.written = false // the round cannot tell which of them arrived
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

// confirm writes again what was not written on the current connection, and confirms the
// batch with one PING.
func (a *acker) confirm(batch []queuedAck) error {
	before := a.nc.Stats().Reconnects
	for i, q := range batch {
		if !q.written || q.reconnects != before {
			if batch[i] = a.write(q); !batch[i].written {
				return errNotWritten
			}
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
