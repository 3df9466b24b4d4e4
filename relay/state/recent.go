package state

import "sync"

// maxRecentBytes bounds the event bodies a Store keeps in memory for Outbox: a first
// sync's backlog is a chunk or two (10,000-20,000 events of ~1 KB); beyond it Outbox
// reads and copies the records as before.
const maxRecentBytes = 64 << 20

// recentBodies are the bodies of the events committed by this Store and still queued,
// by sequence: the drain reads a first sync's 100,000 events back soon after they are
// committed, and copying each one out of bbolt (bbolt's bytes die with the read) was
// 76 MB of a first sync's allocations. A body is immutable, so Outbox hands the same
// bytes to every sink. A body is forgotten when its event leaves the last queue.
type recentBodies struct {
	mu     sync.Mutex
	bodies map[uint64][]byte
	size   int
}

func (r *recentBodies) add(seq uint64, body []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.size+len(body) > maxRecentBytes {
		return
	}
	if r.bodies == nil {
		r.bodies = map[uint64][]byte{}
	}
	if old, ok := r.bodies[seq]; ok {
		r.size -= len(old)
	}
	r.bodies[seq] = body
	r.size += len(body)
}

func (r *recentBodies) get(seq uint64) ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.bodies[seq]
	return b, ok
}

// drop forgets the bodies of events no queue holds any more.
func (r *recentBodies) drop(seqs []uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, seq := range seqs {
		if b, ok := r.bodies[seq]; ok {
			r.size -= len(b)
			delete(r.bodies, seq)
		}
	}
}

// reset forgets every body (the file was replaced).
func (r *recentBodies) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bodies, r.size = nil, 0
}
