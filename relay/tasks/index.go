package tasks

import "hash/maphash"

// slot is the in-memory copy of one snapshot entry: 56 bytes and no pointers, so the
// garbage collector never scans the slots of a million tasks.
type slot struct {
	raw, content, changeNo uint64
	deletedAt              int64
	idOff                  uint64 // the id's bytes in index.arena
	idLen                  uint32
	seen                   uint32 // the last listing that contained the task
	deleted, suspect       bool
	free                   bool // a dropped tombstone's slot, waiting for reuse
}

func (s *slot) entry() Entry {
	return Entry{RawHash: s.raw, Content: s.content, ChangeNo: s.changeNo, Deleted: s.deleted, Suspect: s.suspect, DeletedAt: s.deletedAt}
}

func (s *slot) set(e Entry) {
	s.raw, s.content, s.changeNo = e.RawHash, e.Content, e.ChangeNo
	s.deleted, s.suspect, s.deletedAt = e.Deleted, e.Suspect, e.DeletedAt
}

// index is the whole snapshot in memory: an unchanged task costs one hash and one lookup.
// Nothing in it is a pointer the garbage collector would follow (see idtable.go).
type index struct {
	seed    maphash.Seed
	table   []uint64 // task id → slot, see idtable.go
	arena   []byte   // every slot's id
	garbage int      // arena bytes of dropped ids
	// minGarbage is the garbage from which the arena may be rewritten. Default: 1 MiB.
	minGarbage int
	ids        int // ids in the table
	slots      []slot
	free       []int32 // slots of dropped tombstones, for reuse
	live       int     // entries that are not tombstones
	cycle      uint32  // listings seen so far, for slot.seen
	// hints[page][i] is the slot of the task the last listing had at position i of page
	// (-1: unknown). A list that did not change lists its tasks where it listed them
	// before, so an unchanged task is found without a table lookup (see walk.page).
	hints [][]int32
}

// maxHintPages bounds the pages hints are kept for (a page number comes from the lister).
const maxHintPages = 1 << 20

func newIndex() *index { return &index{seed: maphash.MakeSeed(), minGarbage: 1 << 20} }

// get returns the slot of id, or nil.
func (ix *index) get(id string) *slot {
	if i, ok := ix.lookup(id); ok {
		return &ix.slots[i]
	}
	return nil
}

// pageHints returns the hints of page, n long (nil when page is out of range). New
// positions are unknown.
func (ix *index) pageHints(page, n int) []int32 {
	if page < 0 || page >= maxHintPages {
		return nil
	}
	if page >= len(ix.hints) {
		ix.hints = append(ix.hints, make([][]int32, page+1-len(ix.hints))...)
	}
	h := ix.hints[page]
	for len(h) < n {
		h = append(h, -1)
	}
	ix.hints[page] = h[:n]
	return h[:n]
}

// put stores e under id, adding a slot when id is new, and keeps live counted.
func (ix *index) put(id string, e Entry) *slot {
	s := ix.get(id)
	if s == nil {
		return ix.add(id, e)
	}
	if !s.deleted {
		ix.live--
	}
	s.set(e)
	if !s.deleted {
		ix.live++
	}
	return s
}

// add stores e under id, which the index does not hold (a new task: no look-up).
func (ix *index) add(id string, e Entry) *slot {
	var i int32
	if n := len(ix.free); n > 0 {
		i, ix.free = ix.free[n-1], ix.free[:n-1]
	} else {
		i = int32(len(ix.slots))
		ix.slots = append(ix.slots, slot{})
	}
	ix.slots[i] = slot{}
	ix.insert(id, i)
	s := &ix.slots[i]
	s.set(e)
	if !s.deleted {
		ix.live++
	}
	return s
}

// drop forgets id (an expired tombstone).
func (ix *index) drop(id string) {
	p, ok := ix.find(id)
	if !ok {
		return
	}
	i := int32(uint32(ix.table[p])) - 1
	if !ix.slots[i].deleted {
		ix.live--
	}
	ix.remove(p)
	ix.forget(i)
	// A hint may still lead here: a free slot never matches a listed task.
	ix.slots[i] = slot{deleted: true, free: true}
	ix.free = append(ix.free, i)
}

// relayout renumbers the slots in the order the last listing had their tasks (hints), so
// that the next listings read them front to back instead of at random: the slots of a
// first sync are numbered in id order, and a million of them do not fit in a cache. The
// tasks no hint leads to follow; free slots go. It permutes in place: its only extra
// memory is 4 bytes a slot.
func (ix *index) relayout() {
	const unset = -1
	perm := make([]int32, len(ix.slots)) // old slot → new slot
	for i := range perm {
		perm[i] = unset
	}
	next := int32(0)
	for _, h := range ix.hints {
		for k, j := range h {
			if j < 0 || int(j) >= len(ix.slots) || ix.slots[j].free {
				h[k] = unset
				continue
			}
			if perm[j] == unset {
				perm[j] = next
				next++
			}
			h[k] = perm[j]
		}
	}
	for j := range ix.slots {
		if perm[j] == unset && !ix.slots[j].free {
			perm[j] = next
			next++
		}
	}
	for p, e := range ix.table {
		if e != 0 {
			ix.table[p] = e&^(1<<32-1) | uint64(perm[uint32(e)-1]+1)
		}
	}
	used := next
	// Free slots are numbered last, then cut off.
	for j := range ix.slots {
		if perm[j] == unset {
			perm[j] = next
			next++
		}
	}
	for i := range ix.slots { // follow each cycle of the permutation
		for perm[i] != int32(i) {
			j := perm[i]
			ix.slots[i], ix.slots[j] = ix.slots[j], ix.slots[i]
			perm[i], perm[j] = perm[j], perm[i]
		}
	}
	ix.slots = ix.slots[:used]
	ix.free = nil
}
