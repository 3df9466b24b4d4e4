package natsresults

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// errReconnected fails a round of acks during which the connection was replaced: an ack
// written to the old socket may never have reached the server, so it is sent again.
var errReconnected = errors.New("nats reconnected while the acks were in flight")

// ackBody is JetStream's positive ack.
var ackBody = []byte("+ACK")

// maxAckRound bounds the acks one round writes before it confirms them.
const maxAckRound = 256

// acker sends acks in rounds (group commit): the acks that arrive within AckBatchWait of
// the first are written together, then one PING confirms them all. A PONG on the same
// connection proves the server read every ack written before the PING; a round that lost
// its connection (or whose PING was not answered) fails, and its acks are tried again by
// the caller. A double ack per message would confirm the same, at the cost of a request
// and a reply for every message; one round of up to 256 acks costs one write and one PONG.
//
// What a PONG does not prove: that the consumer has processed the ack (the server queues
// acks for its consumer). A server that dies in between redelivers the message; Reten
// answers the repeat with 409, as it does after any other lost ack.
type acker struct {
	nc      *nats.Conn
	wait    time.Duration
	timeout time.Duration

	mu  sync.Mutex
	cur *ackRound
}

// ackRound is one group of acks written and confirmed together.
type ackRound struct {
	replies []string
	done    chan struct{}
	err     error
	once    sync.Once
}

// ack queues an ack for the message whose reply subject is reply and waits until its
// round is confirmed (nil) or failed.
func (a *acker) ack(ctx context.Context, reply string) error {
	a.mu.Lock()
	r := a.cur
	if r == nil {
		r = &ackRound{done: make(chan struct{})}
		a.cur = r
		time.AfterFunc(a.wait, func() { a.flush(r) })
	}
	r.replies = append(r.replies, reply)
	full := len(r.replies) >= maxAckRound
	if full {
		a.cur = nil // later acks start the next round
	}
	a.mu.Unlock()
	if full {
		go a.flush(r)
	}
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// flush writes a round's acks and confirms them with a PING, once.
func (a *acker) flush(r *ackRound) {
	r.once.Do(func() {
		a.mu.Lock()
		if a.cur == r {
			a.cur = nil
		}
		replies := r.replies
		a.mu.Unlock()
		r.err = a.send(replies)
		close(r.done)
	})
}

func (a *acker) send(replies []string) error {
	before := a.nc.Stats().Reconnects
	for _, reply := range replies {
		if err := a.nc.Publish(reply, ackBody); err != nil {
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
