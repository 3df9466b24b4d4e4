package natsresults

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// settler settles one message exactly once. Retry waits for the server to confirm; an ack
// is confirmed (and sent again when lost in a connection drop) by the source's acker.
type settler struct {
	nc      *nats.Conn
	acks    *acker
	msg     jetstream.Msg
	timeout time.Duration

	mu      sync.Mutex // one settle at a time
	settled atomic.Bool
}

// ack queues the ack for the source's next round of acks (see acker), which confirms it
// with the server and sends it again if it was lost. It does not wait: once queued, the
// message is settled for the pipeline.
func (st *settler) ack(context.Context) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.settled.Load() {
		return ErrAlreadySettled
	}
	st.settled.Store(true)
	st.acks.ack(st.msg.Reply())
	return nil
}

// retry NAKs with a delay and waits for the server's confirmation. The jetstream package
// only has a fire-and-forget NakWithDelay, so the NAK is sent as a request on the
// message's reply subject, which the server answers like a double ack.
func (st *settler) retry(ctx context.Context, delay time.Duration) error {
	return st.settle(ctx, "retry", func(ctx context.Context) error {
		body := []byte("-NAK")
		if delay > 0 {
			body = fmt.Appendf(nil, `-NAK {"delay": %d}`, delay.Nanoseconds())
		}
		_, err := st.nc.RequestWithContext(ctx, st.msg.Reply(), body)
		return err
	})
}

// inProgress resets the server's redelivery timer; it may be sent any number of times
// before the message is settled.
func (st *settler) inProgress(ctx context.Context) error {
	if st.settled.Load() {
		return ErrAlreadySettled
	}
	if err := st.msg.InProgress(); err != nil {
		return fmt.Errorf("mark message %s as in progress: %w", st.msg.Subject(), err)
	}
	return nil
}

// settle runs do once. A failed settle may be tried again: the message is still the
// server's to redeliver.
func (st *settler) settle(ctx context.Context, what string, do func(context.Context) error) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.settled.Load() {
		return ErrAlreadySettled
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, st.timeout)
		defer cancel()
	}
	if err := do(ctx); err != nil {
		return fmt.Errorf("%s result message on %s: %w", what, st.msg.Subject(), err)
	}
	st.settled.Store(true)
	return nil
}
