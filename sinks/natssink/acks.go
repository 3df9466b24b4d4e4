package natssink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ackWaiter publishes JetStream messages with reply subjects of its own and matches each
// PubAck to its run (one Publish's messages): one subscription for every reply, and per
// message no future, channel, timer or JSON decoding of a good PubAck. nats.go's async
// publisher spent all of those on each of a first sync's 100,000 messages, about a fifth
// of the relay's CPU while it published them. A run waits as long as its Publish's ctx
// allows, and a disconnect fails every waiting run at once (as nats.go does), since the
// server forgets the replies of a connection it lost.
type ackWaiter struct {
	nc     *nats.Conn
	prefix string // "_INBOX.<unique>."; a reply is prefix + "<run>.<index>"
	sub    *nats.Subscription
	status chan nats.Status

	mu   sync.Mutex
	next uint64
	runs map[uint64]*ackRun
}

// ackRun is one Publish's messages waiting for their PubAcks.
type ackRun struct {
	id     uint64
	prefix string        // the run's reply prefix
	errs   []error       // by message: nil until answered, then errAcked or the failure
	left   int           // messages not answered yet
	done   chan struct{} // closed once every message is answered
}

// errAcked marks a message the stream stored (or had stored: a duplicate).
var errAcked = errors.New("acknowledged")

// newAckWaiter subscribes to the replies on nc and watches it for disconnects until close.
func newAckWaiter(nc *nats.Conn) (*ackWaiter, error) {
	w := &ackWaiter{nc: nc, prefix: nc.NewInbox() + ".", runs: map[uint64]*ackRun{}}
	sub, err := nc.Subscribe(w.prefix+">", w.answer)
	if err != nil {
		return nil, fmt.Errorf("subscribe to jetstream acknowledgements: %w", err)
	}
	w.sub = sub
	w.status = nc.StatusChanged(nats.RECONNECTING, nats.CLOSED)
	go func() {
		for range w.status {
			w.disconnected()
		}
	}()
	return w, nil
}

// close stops the subscription and the watch; runs still waiting fail.
func (w *ackWaiter) close() {
	_ = w.sub.Unsubscribe()
	w.nc.RemoveStatusListener(w.status)
	w.disconnected()
}

// start registers a run of n messages; ackRun.reply gives each one's reply subject.
func (w *ackWaiter) start(n int) *ackRun {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.next++
	r := &ackRun{id: w.next, errs: make([]error, n), left: n, done: make(chan struct{})}
	r.prefix = w.prefix + strconv.FormatUint(r.id, 10) + "."
	w.runs[r.id] = r
	return r
}

// reply is the reply subject of message i of r.
func (r *ackRun) reply(i int) string { return r.prefix + strconv.Itoa(i) }

// forget drops r: answers that still come for it are ignored.
func (w *ackWaiter) forget(r *ackRun) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.runs, r.id)
}

// disconnected fails every waiting run: the server will not answer them.
func (w *ackWaiter) disconnected() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, r := range w.runs {
		for i, e := range r.errs {
			if e == nil {
				r.errs[i] = nats.ErrDisconnected
			}
		}
		r.left = 0
		close(r.done)
		delete(w.runs, id)
	}
}

// answer takes one PubAck (or the server's "no responders" status).
func (w *ackWaiter) answer(m *nats.Msg) {
	rest, ok := strings.CutPrefix(m.Subject, w.prefix)
	if !ok {
		return
	}
	runPart, idxPart, ok := strings.Cut(rest, ".")
	if !ok {
		return
	}
	id, err1 := strconv.ParseUint(runPart, 10, 64)
	i, err2 := strconv.Atoi(idxPart)
	if err1 != nil || err2 != nil {
		return
	}
	result := ackResult(m)
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.runs[id]
	if r == nil || i < 0 || i >= len(r.errs) || r.errs[i] != nil {
		return
	}
	r.errs[i] = result
	if r.left--; r.left == 0 {
		close(r.done)
		delete(w.runs, id)
	}
}

// ackResult reads one answer: errAcked for a PubAck, the error otherwise. A good PubAck
// ({"stream":"S","seq":1}) is recognised without decoding it; anything else is decoded.
func ackResult(m *nats.Msg) error {
	if len(m.Data) == 0 && m.Header.Get("Status") == "503" {
		return jetstream.ErrNoStreamResponse
	}
	if bytes.HasPrefix(m.Data, []byte(`{"stream":"`)) && !bytes.Contains(m.Data, []byte(`"error"`)) {
		return errAcked
	}
	var pa struct {
		Stream string              `json:"stream"`
		Error  *jetstream.APIError `json:"error"`
	}
	switch err := json.Unmarshal(m.Data, &pa); {
	case err != nil:
		return jetstream.ErrInvalidJSAck
	case pa.Error != nil:
		return pa.Error
	case pa.Stream == "":
		return jetstream.ErrInvalidJSAck
	}
	return errAcked
}

// wait waits until every message of r is answered or ctx is done; on ctx the run is
// forgotten and ctx's error returned with how many were answered.
func (w *ackWaiter) wait(ctx context.Context, r *ackRun) (answered int, err error) {
	select {
	case <-r.done:
		return len(r.errs), nil
	case <-ctx.Done():
		w.mu.Lock()
		answered = len(r.errs) - r.left
		delete(w.runs, r.id)
		w.mu.Unlock()
		return answered, ctx.Err()
	}
}
