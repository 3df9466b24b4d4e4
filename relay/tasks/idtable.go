package tasks

import "hash/maphash"

// The id → slot table of the index holds no pointer: the ids are in one byte arena
// (slot.idOff, slot.idLen) and the table is open addressing with linear probing over
// words of hash<<32 | slot+1 (0: empty). A map[string]int32 of a million ids cost a
// million small strings, and the garbage collector marked all of them on every
// collection; this costs 8 bytes a table word and the id's bytes, and is never scanned.

// minTable is the smallest table.
const minTable = 1024

func (ix *index) hashID(id string) uint32 { return uint32(maphash.String(ix.seed, id)) }

// idOf is slot j's id, in the arena: valid until the next put or drop.
func (ix *index) idOf(j int32) []byte {
	s := &ix.slots[j]
	return ix.arena[s.idOff : s.idOff+uint64(s.idLen)]
}

// idString is slot j's id as a string of its own.
func (ix *index) idString(j int32) string { return string(ix.idOf(j)) }

// lookup returns the slot of id.
func (ix *index) lookup(id string) (int32, bool) {
	p, ok := ix.find(id)
	if !ok {
		return -1, false
	}
	return int32(uint32(ix.table[p])) - 1, true
}

// find returns the table position of id.
func (ix *index) find(id string) (uint32, bool) {
	if len(ix.table) == 0 {
		return 0, false
	}
	h := ix.hashID(id)
	mask := uint32(len(ix.table) - 1)
	for p := h & mask; ; p = (p + 1) & mask {
		e := ix.table[p]
		if e == 0 {
			return 0, false
		}
		if uint32(e>>32) == h && string(ix.idOf(int32(uint32(e))-1)) == id {
			return p, true
		}
	}
}

// insert adds id, not in the table, as slot j: its bytes go to the arena.
func (ix *index) insert(id string, j int32) {
	if 2*(ix.ids+1) > len(ix.table) {
		ix.resize(max(2*len(ix.table), minTable))
	}
	s := &ix.slots[j]
	s.idOff, s.idLen = uint64(len(ix.arena)), uint32(len(id))
	ix.arena = append(ix.arena, id...)
	ix.place(uint64(ix.hashID(id))<<32 | uint64(j+1))
	ix.ids++
}

// place puts a table word at the first free position from its hash's.
func (ix *index) place(e uint64) {
	mask := uint32(len(ix.table) - 1)
	p := uint32(e>>32) & mask
	for ix.table[p] != 0 {
		p = (p + 1) & mask
	}
	ix.table[p] = e
}

func (ix *index) resize(n int) {
	old := ix.table
	ix.table = make([]uint64, n)
	for _, e := range old {
		if e != 0 {
			ix.place(e)
		}
	}
}

// remove takes the word at position p out, shifting back the words after it that
// would otherwise be cut off from their hash's position.
func (ix *index) remove(p uint32) {
	mask := uint32(len(ix.table) - 1)
	for {
		ix.table[p] = 0
		q := p
		for {
			q = (q + 1) & mask
			e := ix.table[q]
			if e == 0 {
				ix.ids--
				return
			}
			home := uint32(e>>32) & mask
			// The word at q may stay when its home lies cyclically in (p, q].
			if p <= q && p < home && home <= q || p > q && (p < home || home <= q) {
				continue
			}
			ix.table[p] = e
			p = q
			break
		}
	}
}

// forget drops slot j's id bytes; the arena is rewritten once most of it is such garbage.
func (ix *index) forget(j int32) {
	ix.garbage += int(ix.slots[j].idLen)
	if ix.garbage < ix.minGarbage || 2*ix.garbage < len(ix.arena) {
		return
	}
	arena := make([]byte, 0, len(ix.arena)-ix.garbage)
	for k := range ix.slots {
		s := &ix.slots[k]
		if s.free || int32(k) == j {
			continue
		}
		off := uint64(len(arena))
		arena = append(arena, ix.arena[s.idOff:s.idOff+uint64(s.idLen)]...)
		s.idOff = off
	}
	ix.arena, ix.garbage = arena, 0
}
