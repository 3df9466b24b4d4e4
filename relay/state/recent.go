package state

import "sync"

// maxRecentBytes bounds the event bodies a Store keeps in memory for Outbox: a first
// sync's drain reads a chunk (10,000 events of ~1 KB) soon after it is committed; beyond
// the bound Outbox reads and copies the records as before. Kept small: the bodies are
// live heap, which the garbage collector's goal doubles (a million-task first sync).
const maxRecentBytes = 16 << 20

// recentBodies are the bodies of the events committed by this Store that not every
// queue has read yet, by sequence: the drain reads a first sync's 100,000 events back
// soon after they are committed, and copying each one out of bbolt (bbolt's bytes die
// with the read) was 76 MB of a first sync's allocations. A body is immutable, so Outbox
// hands the same bytes to every sink. A body is forgotten once each of its event's
// messages was read (a drain that reads again after a failure reads the record) or the
// event left the last queue.
type recentBodies struct {
	mu     sync.Mutex
	bodies map[uint64]recentBody
	size   int
}

type recentBody struct {
	body   []byte
	unread int // messages not read yet
}

func (r *recentBodies) add(seq uint64, body []byte, messages int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.size+len(body) > maxRecentBytes {
		return
	}
	if r.bodies == nil {
		r.bodies = map[uint64]recentBody{}
	}
	r.forget(seq)
	r.bodies[seq] = recentBody{body: body, unread: messages}
	r.size += len(body)
}

// read returns the body of event seq for one of its messages.
func (r *recentBodies) read(seq uint64) ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.bodies[seq]
	if !ok {
		return nil, false
	}
	if b.unread--; b.unread <= 0 {
		r.forget(seq)
	} else {
		r.bodies[seq] = b
	}
	return b.body, true
}

// drop forgets the bodies of events no queue holds any more.
func (r *recentBodies) drop(seqs []uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, seq := range seqs {
		r.forget(seq)
	}
}

// forget removes seq's body; r.mu is held.
func (r *recentBodies) forget(seq uint64) {
	if b, ok := r.bodies[seq]; ok {
		r.size -= len(b.body)
		delete(r.bodies, seq)
	}
}

// reset forgets every body (the file was replaced).
func (r *recentBodies) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bodies, r.size = nil, 0
}
