package natsstate

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

// readTimeout bounds one direct-get request when the caller's ctx has no deadline.
const readTimeout = 30 * time.Second

// storedMsg is one message a direct get returned.
type storedMsg struct {
	subject string
	seq     uint64
	data    []byte
	deleted bool // a KV delete or purge marker
}

// directReq is JetStream's direct-get request (batched and multi-subject forms).
type directReq struct {
	Seq       uint64   `json:"seq,omitempty"`
	NextFor   string   `json:"next_by_subj,omitempty"`
	Batch     int      `json:"batch,omitempty"`
	MultiLast []string `json:"multi_last,omitempty"`
}

// directGet sends one batched direct get and calls fn for each message until the
// end-of-batch marker. It returns how many matching messages the server says it did not
// send (the batch or its byte limit was reached). No match is not an error.
// nats.go's jetstream package has no batched direct get, so this speaks the protocol:
// responses carry Nats-Subject, Nats-Sequence and Nats-Num-Pending headers, and a
// 204 status ends the batch.
func (s *Store) directGet(ctx context.Context, req directReq, fn func(storedMsg) error) (pending uint64, err error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, readTimeout)
		defer cancel()
	}
	body, _ := json.Marshal(req) // cannot fail
	inbox := s.nc.NewRespInbox()
	sub, err := s.nc.SubscribeSync(inbox)
	if err != nil {
		return 0, fmt.Errorf("direct get: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	_ = sub.SetPendingLimits(-1, -1) // a batch arrives all at once
	if err := s.nc.PublishRequest("$JS.API.DIRECT.GET."+s.stream, inbox, body); err != nil {
		return 0, fmt.Errorf("direct get: %w", err)
	}
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return 0, fmt.Errorf("direct get from %s: %w", s.stream, err)
		}
		status := m.Header.Get("Status")
		switch status {
		case "":
		case "204": // end of batch
			p, _ := strconv.ParseUint(m.Header.Get("Nats-Num-Pending"), 10, 64)
			return p, nil
		case "404":
			return 0, nil
		default:
			return 0, fmt.Errorf("direct get from %s: status %s %s", s.stream, status, m.Header.Get("Description"))
		}
		seq, err := strconv.ParseUint(m.Header.Get("Nats-Sequence"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("direct get from %s: bad Nats-Sequence: %w", s.stream, err)
		}
		if err := fn(storedMsg{subject: m.Header.Get("Nats-Subject"), seq: seq, data: m.Data, deleted: isMarker(m.Header)}); err != nil {
			return 0, err
		}
	}
}

// scan calls fn for every message on subjects matching filter from stream sequence from
// on, in stream order, page by page.
func (s *Store) scan(ctx context.Context, filter string, from uint64, page int, fn func(storedMsg) (bool, error)) error {
	seq := max(from, 1)
	for {
		last, sent := uint64(0), 0
		stop := false
		pending, err := s.directGet(ctx, directReq{Seq: seq, NextFor: filter, Batch: page}, func(m storedMsg) error {
			last, sent = m.seq, sent+1
			if stop {
				return nil
			}
			more, err := fn(m)
			stop = !more
			return err
		})
		if err != nil || stop || sent == 0 || pending == 0 {
			return err
		}
		seq = last + 1
	}
}

// isMarker reports whether a message is a KV delete or purge marker, or the marker the
// server leaves when a message's TTL expires.
func isMarker(h nats.Header) bool {
	op := h.Get("KV-Operation")
	return op == "DEL" || op == "PURGE" || h.Get("Nats-Marker-Reason") != ""
}

// header makes a nats.Header of key/value pairs.
func header(kv ...string) nats.Header {
	h := nats.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}
