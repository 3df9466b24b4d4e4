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
	msgs chan jetstream.Msg // what Receive takes; unused when push is set
	// push, when set, takes each message instead, in the pull's goroutine; false means it
	// was not taken (see Source.Push).
	push    func(jetstream.Msg) bool
	handing sync.Mutex    // held while push runs, so a dropped pull's last hand-over can be awaited
	stop    chan struct{} // closed when dropped: a handler still waiting lets its message go
	once    sync.Once

	mu      sync.Mutex
	lastErr error // the last error Consume reported
}

// startPull starts consuming from cons with at most batch messages (and maxBytes) asked for
// at a time, handing them to push when it is not nil, else to Receive.
func startPull(cons jetstream.Consumer, batch, maxBytes int, push func(jetstream.Msg) bool) (*pull, error) {
	p := &pull{push: push, stop: make(chan struct{})}
	if push == nil {
		// The buffer lets the handler hand over a pull's messages without waiting for
		// Receive each time; what it holds is what the pull asked for anyway.
		p.msgs = make(chan jetstream.Msg, batch)
	}
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

// handle waits until the message is taken, or the pull is dropped (then the message is
// never handed out, and the server delivers it again after its ack wait).
func (p *pull) handle(m jetstream.Msg) {
	if p.push != nil {
		p.handing.Lock()
		defer p.handing.Unlock()
		select {
		case <-p.stop:
			return // dropped: the subscription may still hand over what it holds
		default:
		}
		if !p.push(m) {
			<-p.stop // taking nothing more: ask for nothing more until dropped
		}
		return
	}
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

// handedOver waits until a push in progress has returned; after drop, no other starts.
func (p *pull) handedOver() {
	p.handing.Lock()
	defer p.handing.Unlock()
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
