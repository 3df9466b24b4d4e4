package tasks

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/reten/reten-relay/schema"
)

// walk diffs one listing page by page as the pages arrive. An unchanged task costs a raw
// hash and a map lookup and keeps nothing; only new and changed tasks are copied.
type walk struct {
	ix      *index
	cyc     uint32
	seenNew map[string]struct{} // new ids already listed by this walk
	found   []found
	listed  int // distinct tasks listed
	jumps   int // known tasks whose slot did not follow the previous one's
	lastHit int32
	hash    hasher
	// flush, when set, is called with chunk tasks found: it plans and commits them.
	flush func() error
	chunk int
}

// defaultChunkSize is how many found tasks a walk keeps before it commits them, unless
// Config.ChunkSize says otherwise. A chunk's tasks, events and records are the bulk of a
// first sync's heap: 20,000 took the relay to 330 MB peak RSS and 100,000 page faults per
// 100,000 tasks; 10,000 to 215 MB and 75,000, for 0.2 CPU-s less; 5,000 cost more in
// commits than it saved (and since the snapshot runs, about as much as it saved).
const defaultChunkSize = 10_000

// found is a listed task that is new, changed, or back from suspicion.
type found struct {
	id      string
	raw     []byte // a copy: the page's bytes die with the page
	rawHash uint64
	// content is the SHA-256 of raw's canonical form, computed only for a live task whose
	// bytes changed: it tells a real change from a new form of the same content. A new
	// task, so every task of a first sync, is not put in canonical form at all.
	content [32]byte
	// slot is the task's slot in the index, -1 when new. It holds until the walk's plan:
	// slots move only after a listing (index.relayout, index.drop), and a new id enters
	// the index only with the chunk that found it.
	slot int32
}

func newWalk(ix *index, chunk int) *walk {
	ix.cycle++
	return &walk{ix: ix, cyc: ix.cycle, seenNew: make(map[string]struct{}), chunk: chunk}
}

// page is the schema.PageFunc of the walk. Pages may come in any order; a task listed
// twice (pages shift while Reten's list changes) counts once, as first seen.
//
// A task is first looked for where the last listing had it (index.hints): when that
// slot's raw hash is the listed bytes' hash, it is the same task, unchanged (the bytes
// hold the id; the diff trusts a 64-bit raw hash already), and the id is not even
// looked up. Otherwise the id is, and the hint is corrected.
func (w *walk) page(pageNo int, ts []schema.Task) error {
	hints := w.ix.pageHints(pageNo, len(ts))
	for i := range ts {
		t := &ts[i]
		h := rawHash(t.Raw)
		if hints != nil {
			if j := hints[i]; j >= 0 && int(j) < len(w.ix.slots) {
				if s := &w.ix.slots[j]; s.raw == h && !s.deleted && !s.suspect {
					if s.seen != w.cyc {
						s.seen = w.cyc
						w.listed++
					}
					w.step(j)
					continue
				}
			}
		}
		j, ok := w.ix.lookup(t.ID)
		var s *slot
		if ok {
			s = &w.ix.slots[j]
		}
		if hints != nil {
			hints[i] = -1
			if ok {
				hints[i] = j
			}
		}
		if ok {
			w.step(j)
		}
		if s != nil {
			if s.seen == w.cyc {
				continue
			}
			s.seen = w.cyc
			if s.raw == h && !s.deleted && !s.suspect {
				w.listed++
				continue
			}
		} else {
			if _, dup := w.seenNew[t.ID]; dup {
				continue
			}
		}
		w.listed++
		f := found{id: strings.Clone(t.ID), raw: bytes.Clone(t.Raw), rawHash: h, slot: -1}
		if ok {
			f.slot = j
		}
		if s == nil {
			w.seenNew[f.id] = struct{}{} // the same copy: a first sync clones each id once
		}
		if s != nil && !s.deleted && s.raw != h {
			var err error
			if f.content, err = w.hash.contentHash(f.raw); err != nil {
				return fmt.Errorf("hash task %s: %w", f.id, err)
			}
		}
		w.found = append(w.found, f)
	}
	if w.flush != nil && len(w.found) >= w.chunk {
		return w.flush()
	}
	return nil
}

// step counts the walk's visit of slot j in a jump when it does not follow the last one.
func (w *walk) step(j int32) {
	if j != w.lastHit+1 {
		w.jumps++
	}
	w.lastHit = j
}

// scattered tells whether this walk read the slots so out of order that relaying them out
// (index.relayout) pays: more than an eighth of the tasks listed, and enough of them.
func (w *walk) scattered() bool {
	return w.jumps >= relayoutMin && w.jumps > w.listed/8
}

// relayoutMin is the fewest jumps worth a relayout: below it the slots fit in a cache.
const relayoutMin = 10_000

// change is one event a diff decided to publish.
type change struct {
	op   schema.Op
	id   string
	raw  []byte   // the task as listed; nil for deleted
	full [32]byte // the content hash of raw, for the event id
	// unsure marks an update of a task whose previous content was never put in canonical
	// form (Entry.Content 0): buildEvents compares the two forms once it has read the
	// previous version, and drops the change when they are the same content.
	unsure bool
	// inEvent is raw's copy in the encoded event (buildEvents), for the snapshot.
	inEvent []byte
	entry   Entry // the entry after the change
}

// plan is what one cycle decided; nothing of it is applied before it is committed.
type plan struct {
	updates []EntryUpdate
	changes []change
	drop    []string // expired tombstones
	meta    Meta
	// more: a chunk of a listing that goes on (Commit.More).
	more bool

	created, updated, deleted int
	suspected, held, cleared  int
	live                      int // live tasks before the diff
}

// rawContent stands for the content hash in the event id of a task that was not put in
// canonical form (a created event): its raw hash. The id only has to be the same when the
// same event is published again, and it is published again from the outbox, as stored.
func rawContent(h uint64) [32]byte {
	var c [32]byte
	binary.BigEndian.PutUint64(c[:], h)
	return c
}

// fingerprint is the part of a content hash the snapshot keeps.
func fingerprint(h [32]byte) uint64 {
	return uint64(h[0])<<56 | uint64(h[1])<<48 | uint64(h[2])<<40 | uint64(h[3])<<32 |
		uint64(h[4])<<24 | uint64(h[5])<<16 | uint64(h[6])<<8 | uint64(h[7])
}

// foundRef is a found task in id order: the first 8 bytes of its id, big-endian and
// padded with zeros, order most pairs without comparing strings.
type foundRef struct {
	key uint64
	i   int32
}

// idOrder returns the found tasks in id order. Sorting 16-byte references by a prefix
// key cost a third of sorting the 96-byte found tasks by their ids.
func (w *walk) idOrder() []foundRef {
	order := make([]foundRef, len(w.found))
	for i := range w.found {
		var b [8]byte
		copy(b[:], w.found[i].id)
		order[i] = foundRef{key: binary.BigEndian.Uint64(b[:]), i: int32(i)}
	}
	slices.SortFunc(order, func(a, b foundRef) int {
		if a.key != b.key {
			return cmp.Compare(a.key, b.key)
		}
		return strings.Compare(w.found[a.i].id, w.found[b.i].id)
	})
	return order
}

// plan turns what the walk found into snapshot updates and events: created and updated
// come from any listing, covered or not, because a task seen is a fact.
func (w *walk) plan(meta Meta, emitCreated bool) *plan {
	pl := &plan{meta: meta, live: w.ix.live}
	pl.updates = make([]EntryUpdate, 0, len(w.found))
	if emitCreated { // a first sync: most tasks found make an event
		pl.changes = make([]change, 0, len(w.found))
	}
	for _, o := range w.idOrder() {
		f := &w.found[o.i]
		var s *slot
		if f.slot >= 0 {
			s = &w.ix.slots[f.slot]
		}
		switch {
		case s == nil || s.deleted:
			// Content stays 0, not known: it is computed if the task's bytes ever change.
			ne := Entry{RawHash: f.rawHash}
			if s != nil {
				ne.ChangeNo = s.changeNo
			}
			if emitCreated {
				ne.ChangeNo++
				pl.changes = append(pl.changes, change{op: schema.OpCreated, id: f.id, raw: f.raw, full: rawContent(f.rawHash), entry: ne})
				pl.created++
			}
			pl.updates = append(pl.updates, EntryUpdate{ID: f.id, Entry: ne, Published: f.raw, New: s == nil})
		case s.raw == f.rawHash || s.content != 0 && s.content == fingerprint(f.content):
			// A suspect that came back unchanged, or the same content in another form: no event.
			ne := s.entry()
			ne.RawHash, ne.Suspect = f.rawHash, false
			pl.updates = append(pl.updates, EntryUpdate{ID: f.id, Entry: ne})
		default:
			ne := Entry{RawHash: f.rawHash, Content: fingerprint(f.content), ChangeNo: s.changeNo + 1}
			pl.changes = append(pl.changes, change{op: schema.OpUpdated, id: f.id, raw: f.raw, full: f.content, entry: ne, unsure: s.content == 0})
			pl.updates = append(pl.updates, EntryUpdate{ID: f.id, Entry: ne, Published: f.raw})
			pl.updated++
		}
	}
	// Reused by the next chunk: growing it again by doubling copied each chunk's 10,000
	// entries about ten times. Cleared, so the plan alone holds the tasks' bytes.
	clear(w.found)
	w.found = w.found[:0]
	return pl
}

// missing returns the live tasks this covered walk did not list, split into those missing
// for the first time and the suspects missing again, both sorted, plus the tombstones
// written before expireBefore (unix seconds; 0 keeps them all).
func (w *walk) missing(expireBefore int64) (fresh, again, expired []string) {
	if !w.anyMissing(expireBefore) {
		return nil, nil, nil
	}
	for i := range w.ix.slots {
		switch w.absence(&w.ix.slots[i], expireBefore) {
		case absentExpired:
			expired = append(expired, w.ix.idString(int32(i)))
		case absentAgain:
			again = append(again, w.ix.idString(int32(i)))
		case absentFresh:
			fresh = append(fresh, w.ix.idString(int32(i)))
		}
	}
	sort.Strings(fresh)
	sort.Strings(again)
	sort.Strings(expired)
	return fresh, again, expired
}

// anyMissing tells whether missing would find anything, without making a string of any
// id.
func (w *walk) anyMissing(expireBefore int64) bool {
	for i := range w.ix.slots {
		if w.absence(&w.ix.slots[i], expireBefore) != present {
			return true
		}
	}
	return false
}

// absenceKind is what a slot is to missing.
type absenceKind int

const (
	present       absenceKind = iota // listed by this walk, free, or a tombstone to keep
	absentFresh                      // live and not listed, for the first time
	absentAgain                      // a suspect not listed again
	absentExpired                    // a tombstone written before the expiry
)

func (w *walk) absence(s *slot, expireBefore int64) absenceKind {
	switch {
	case s.free:
	case s.deleted:
		if expireBefore > 0 && s.deletedAt < expireBefore {
			return absentExpired
		}
	case s.seen == w.cyc:
	case s.suspect:
		return absentAgain
	default:
		return absentFresh
	}
	return present
}

// sortUpdates orders the plan's entry updates by id, as Commit wants them.
func (pl *plan) sortUpdates() {
	// A walk's plan is in id order already; only deletes and suspects come after it.
	if !slices.IsSortedFunc(pl.updates, func(a, b EntryUpdate) int { return strings.Compare(a.ID, b.ID) }) {
		sort.SliceStable(pl.updates, func(i, j int) bool { return pl.updates[i].ID < pl.updates[j].ID })
	}
	if !slices.IsSortedFunc(pl.changes, func(a, b change) int { return strings.Compare(a.id, b.id) }) {
		sort.SliceStable(pl.changes, func(i, j int) bool { return pl.changes[i].id < pl.changes[j].id })
	}
}

// apply makes a committed plan the new in-memory index.
func (ix *index) apply(pl *plan) {
	for _, u := range pl.updates {
		var s *slot
		if u.New { // absent when planned, and only this plan adds it
			s = ix.add(u.ID, u.Entry)
		} else {
			s = ix.put(u.ID, u.Entry)
		}
		s.seen = ix.cycle
	}
	for _, id := range pl.drop {
		ix.drop(id)
	}
}
