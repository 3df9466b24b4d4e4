package kafkaresults

import "sync"

// partition is one partition assigned in one generation. It tracks the offsets handed out
// in fetch order, and which of them are settled, so the committed offset never passes an
// unsettled message. Offsets are tracked in fetch order rather than counted up, because a
// compacted topic has gaps.
type partition struct {
	id    int
	slots chan struct{} // one per unsettled message: a full channel pauses fetching

	mu        sync.Mutex
	pending   []int64        // offsets handed out and not yet passed by the commit mark, in order
	settled   map[int64]bool // settled offsets still in pending
	mark      int64          // the offset to commit: all below it are settled; -1 when none yet
	committed int64          // the last mark committed; -1 when none yet
	revoked   bool           // the generation ended: settles change nothing
}

func newPartition(id, maxInFlight int) *partition {
	return &partition{id: id, slots: make(chan struct{}, maxInFlight), settled: map[int64]bool{}, mark: -1, committed: -1}
}

// fetched records an offset handed out; it reports false when the partition was revoked.
func (p *partition) fetched(offset int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.revoked {
		return false
	}
	p.pending = append(p.pending, offset)
	return true
}

// settle marks offset final and moves the commit mark over the settled prefix. It reports
// whether the mark moved, and ErrPartitionRevoked after the generation ended.
func (p *partition) settle(offset int64) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.revoked {
		return false, ErrPartitionRevoked
	}
	p.settled[offset] = true
	moved := false
	for len(p.pending) > 0 && p.settled[p.pending[0]] {
		delete(p.settled, p.pending[0])
		p.mark = p.pending[0] + 1
		p.pending = p.pending[1:]
		moved = true
	}
	return moved, nil
}

// toCommit returns the mark when it is ahead of what was committed.
func (p *partition) toCommit() (int64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mark, p.mark > p.committed
}

// didCommit records a successful commit of mark.
func (p *partition) didCommit(mark int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.committed = max(p.committed, mark)
}

// revoke ends the partition's generation: later settles are ignored.
func (p *partition) revoke() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.revoked = true
}

// isRevoked reports whether the generation ended.
func (p *partition) isRevoked() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.revoked
}
