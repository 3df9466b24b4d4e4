package tasks

import (
	"fmt"
	"sort"

	"github.com/reten/reten-relay/schema"
)

// indexEntry is the in-memory copy of one snapshot entry.
type indexEntry struct {
	Entry
	// seen is the number of the last diff whose listing contained the task.
	seen uint64
}

// index is the whole snapshot in memory: an unchanged task costs one hash and one lookup.
type index struct {
	m     map[string]*indexEntry
	live  int    // entries that are not tombstones
	cycle uint64 // diffs run so far, for indexEntry.seen
}

func newIndex() *index { return &index{m: make(map[string]*indexEntry)} }

// change is one event a diff decided to publish.
type change struct {
	op    schema.Op
	id    string
	raw   []byte // the task as listed; nil for deleted
	entry Entry  // the entry after the change
}

// plan is what one diff decided; nothing of it is applied before it is committed.
type plan struct {
	updates []EntryUpdate
	changes []change
	meta    Meta
	dirty   bool // meta changed

	created, updated, deleted int
	suspected, held           int
	live                      int // live tasks before the diff
}

// diff compares a complete listing with the index. The unchanged fast path does no
// allocation: a raw hash, a map lookup and a store of the cycle number.
func (p *Poller) diff(listing []schema.Task, meta Meta) (*plan, error) {
	ix := p.idx
	ix.cycle++
	cyc := ix.cycle
	pl := &plan{meta: meta, live: ix.live}
	emitCreated := meta.Synced || p.cfg.EmitInitial
	for i := range listing {
		t := &listing[i]
		h := rawHash(t.Raw)
		e := ix.m[t.ID]
		if e != nil {
			e.seen = cyc
			if e.RawHash == h && !e.Deleted && !e.Suspect {
				continue
			}
		}
		if err := diffOne(pl, t, h, e, emitCreated); err != nil {
			return nil, err
		}
	}
	p.diffMissing(pl, cyc, len(listing))
	pl.meta.Synced = true
	pl.dirty = pl.meta != meta
	return pl, nil
}

// diffOne handles a listed task that is new, re-created, changed, or back from suspicion.
func diffOne(pl *plan, t *schema.Task, h uint64, e *indexEntry, emitCreated bool) error {
	ch, err := contentHash(t.Raw)
	if err != nil {
		return fmt.Errorf("hash task %s: %w", t.ID, err)
	}
	switch {
	case e == nil || e.Deleted:
		ne := Entry{RawHash: h, ContentHash: ch}
		if e != nil {
			ne.ChangeNo = e.ChangeNo
		}
		if emitCreated {
			ne.ChangeNo++
			pl.changes = append(pl.changes, change{op: schema.OpCreated, id: t.ID, raw: t.Raw, entry: ne})
			pl.created++
		}
		pl.updates = append(pl.updates, EntryUpdate{ID: t.ID, Entry: ne, Published: t.Raw})
	case e.ContentHash == ch:
		// Same content in another form, or a suspect that came back unchanged: no event.
		ne := e.Entry
		ne.RawHash, ne.Suspect = h, false
		pl.updates = append(pl.updates, EntryUpdate{ID: t.ID, Entry: ne})
	default:
		ne := Entry{RawHash: h, ContentHash: ch, ChangeNo: e.ChangeNo + 1}
		pl.changes = append(pl.changes, change{op: schema.OpUpdated, id: t.ID, raw: t.Raw, entry: ne})
		pl.updates = append(pl.updates, EntryUpdate{ID: t.ID, Entry: ne, Published: t.Raw})
		pl.updated++
	}
	return nil
}

// diffMissing handles live tasks the listing did not contain: suspected the first time,
// deleted when the next complete listing confirms it, unless the mass-delete guard holds.
func (p *Poller) diffMissing(pl *plan, cyc uint64, listed int) {
	var fresh, confirmed []string
	for id, e := range p.idx.m {
		if e.Deleted || e.seen == cyc {
			continue
		}
		if e.Suspect {
			confirmed = append(confirmed, id)
		} else {
			fresh = append(fresh, id)
		}
	}
	sort.Strings(fresh)
	sort.Strings(confirmed)
	for _, id := range fresh {
		ne := p.idx.m[id].Entry
		ne.Suspect = true
		pl.updates = append(pl.updates, EntryUpdate{ID: id, Entry: ne})
	}
	pl.suspected = len(fresh)
	if !p.guardReleases(pl, len(confirmed), listed) {
		pl.held = len(confirmed)
		pl.suspected += len(confirmed)
		return
	}
	for _, id := range confirmed {
		ne := Entry{ChangeNo: p.idx.m[id].ChangeNo + 1, Deleted: true}
		pl.changes = append(pl.changes, change{op: schema.OpDeleted, id: id, entry: ne})
		pl.updates = append(pl.updates, EntryUpdate{ID: id, Entry: ne})
		pl.deleted++
	}
}

// guardReleases decides whether n confirmed deletes may go out, counting in pl.meta the
// consecutive complete listings that would have deleted too much.
func (p *Poller) guardReleases(pl *plan, n, listed int) bool {
	g := p.cfg.DeleteGuard
	massive := n > 0 && ((pl.live >= g.MinSnapshot && float64(n) > g.MaxShare*float64(pl.live)) ||
		(listed == 0 && pl.live > 0))
	if !massive {
		pl.meta.GuardCycles = 0
		return true
	}
	pl.meta.GuardCycles++
	if pl.meta.GuardCycles >= g.ConfirmCycles {
		p.log.Warn().Int("deletes", n).Int("snapshot", pl.live).Int("listed", listed).
			Int("agreeing_listings", pl.meta.GuardCycles).
			Msg("mass delete confirmed by consecutive complete listings: releasing held deletes")
		pl.meta.GuardCycles = 0
		return true
	}
	p.log.Warn().Int("deletes_held", n).Int("snapshot", pl.live).Int("listed", listed).
		Float64("max_share", g.MaxShare).Int("agreeing_listings", pl.meta.GuardCycles).
		Int("needed", g.ConfirmCycles).
		Msg("mass delete guard: holding deletes until enough consecutive complete listings agree")
	return false
}

// apply makes a committed plan the new in-memory index.
func (ix *index) apply(pl *plan) {
	for _, u := range pl.updates {
		e := ix.m[u.ID]
		if e == nil {
			e = &indexEntry{seen: ix.cycle}
			ix.m[u.ID] = e
		} else if !e.Deleted {
			ix.live--
		}
		e.Entry = u.Entry
		if !e.Deleted {
			ix.live++
		}
	}
}
