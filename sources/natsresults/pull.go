package natsresults

import (
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// errPullStopped is what Receive reports when the pull ended by itself without saying why.
var errPullStopped = errors.New("pull stopped")

// pull is a running Consume whose handler hands each message to Receive, one at a time.
//
// Why not jetstream's Messages iterator: it delivers into a channel exactly as large as the
// messages it asks for, and the pull statuses and heartbeats share that channel; with a
// reader that keeps up (as the relay's does) nats.go still reports "slow consumer, messages
// dropped" now and then (a few times in 40 runs of 1,000 messages in isolation, measured on
// nats.go v1.55.0), and a dropped message waits for its ack wait (30 s by default) before it
// comes again. Consume delivers through a subscription with nats.go's own pending limits,
// which the messages asked for never reach, and counts a message as taken only when the
// handler returns, so a handler that waits for the relay asks for nothing more meanwhile.
type pull struct {
	cc   jetstream.ConsumeContext
	msgs chan jetstream.Msg
	stop chan struct{} // closed when dropped: a handler still waiting lets its message go
	once sync.Once

	mu      sync.Mutex
	lastErr error // the last error Consume reported
}

// startPull starts consuming from cons with at most batch messages (and maxBytes) asked for
// at a time.
func startPull(cons jetstream.Consumer, batch, maxBytes int) (*pull, error) {
	// The buffer lets the handler hand over a pull's messages without waiting for Receive
	// each time; what it holds is what the pull asked for anyway.
	p := &pull{msgs: make(chan jetstream.Msg, batch), stop: make(chan struct{})}
	cc, err := cons.Consume(p.handle,
		jetstream.PullMaxMessagesWithBytesLimit(batch, maxBytes),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			p.mu.Lock()
			p.lastErr = err
			p.mu.Unlock()
		}))
	if err != nil {
		return nil, err
	}
	p.cc = cc
	return p, nil
}

// handle waits until Receive takes the message, or the pull is dropped (then the message is
// never handed out, and the server delivers it again after its ack wait).
func (p *pull) handle(m jetstream.Msg) {
	select {
	case p.msgs <- m:
	case <-p.stop:
	}
}

// drop stops the pull; messages not handed out are redelivered after their ack wait.
func (p *pull) drop() {
	p.once.Do(func() {
		close(p.stop)
		p.cc.Stop()
	})
}

// err says why the pull ended by itself (consumer deleted, connection closed).
func (p *pull) err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lastErr != nil {
		return fmt.Errorf("%w: %w", errPullStopped, p.lastErr)
	}
	return errPullStopped
}
