package state

import "sync"

// maxRecentBytes bounds the event bodies a Store keeps in memory for Outbox: a first
// sync's drain reads a chunk (10,000 events of ~1 KB) soon after it is committed; beyond
// the bound Outbox reads and copies the records as before. Kept small: the bodies are
// live heap, which the garbage collector's goal doubles (a million-task first sync).
const maxRecentBytes = 16 << 20

// maxRecentSpan bounds the sequences the window spans (32 bytes each), so an old body
// that one queue never reads cannot stretch it over every event committed since: the
// oldest bodies are forgotten first.
const maxRecentSpan = 1 << 16

// recentBodies are the bodies of the events committed by this Store that not every
// queue has read yet, by sequence: the drain reads a first sync's 100,000 events back
// soon after they are committed, and copying each one out of bbolt (bbolt's bytes die
// with the read) was 76 MB of a first sync's allocations. A body is immutable, so Outbox
// hands the same bytes to every sink. A body is forgotten once each of its event's
// messages was read (a drain that reads again after a failure reads the record) or the
// event left the last queue.
//
// Sequences grow with every commit and the drain reads them in about that order, so the
// bodies sit in a window indexed by sequence rather than a map: a map's insert, look-up
// and delete were 3 % of a first sync's CPU.
type recentBodies struct {
	mu     sync.Mutex
	base   uint64       // the sequence of bodies[0]
	bodies []recentBody // by sequence from base; a nil body is none
	size   int
}

type recentBody struct {
	body   []byte
	unread int // messages not read yet
}

func (r *recentBodies) add(seq uint64, body []byte, messages int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.size+len(body) > maxRecentBytes || body == nil {
		return
	}
	if len(r.bodies) == 0 {
		r.base = seq
	}
	if seq < r.base { // older than the window: not kept
		return
	}
	for seq-r.base >= maxRecentSpan {
		r.forget(r.base)
		r.trim()
		if len(r.bodies) == 0 {
			r.base = seq
		}
	}
	i := int(seq - r.base)
	if i < len(r.bodies) {
		r.forget(seq)
	}
	for len(r.bodies) <= i {
		r.bodies = append(r.bodies, recentBody{})
	}
	r.bodies[i] = recentBody{body: body, unread: messages}
	r.size += len(body)
}

// read returns the body of event seq for one of its messages.
func (r *recentBodies) read(seq uint64) ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.at(seq)
	if b == nil || b.body == nil {
		return nil, false
	}
	body := b.body
	if b.unread--; b.unread <= 0 {
		r.forget(seq)
		r.trim()
	}
	return body, true
}

// drop forgets the bodies of events no queue holds any more.
func (r *recentBodies) drop(seqs []uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, seq := range seqs {
		r.forget(seq)
	}
	r.trim()
}

// at returns seq's place in the window, or nil; r.mu is held.
func (r *recentBodies) at(seq uint64) *recentBody {
	if seq < r.base || seq-r.base >= uint64(len(r.bodies)) {
		return nil
	}
	return &r.bodies[seq-r.base]
}

// forget removes seq's body; r.mu is held.
func (r *recentBodies) forget(seq uint64) {
	if b := r.at(seq); b != nil && b.body != nil {
		r.size -= len(b.body)
		*b = recentBody{}
	}
}

// trim moves the window's start past the bodies forgotten at its front; r.mu is held.
func (r *recentBodies) trim() {
	n := 0
	for n < len(r.bodies) && r.bodies[n].body == nil {
		n++
	}
	r.bodies, r.base = r.bodies[n:], r.base+uint64(n)
	if len(r.bodies) == 0 {
		r.bodies = r.bodies[:0:0] // let the old array go
	}
}

// reset forgets every body (the file was replaced).
func (r *recentBodies) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bodies, r.base, r.size = nil, 0, 0
}
