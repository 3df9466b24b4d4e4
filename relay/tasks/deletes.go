package tasks

import (
	"context"
	"sync"

	"github.com/reten/reten-relay/schema"
)

// planDeletes adds the deletes of a covered listing to pl. A live task missing for the
// first time is suspected; a suspect missing again is deleted only when the mass-delete
// guard lets it and, where Reten can be asked about one task (TaskExists), Reten says it
// is gone: offset pagination skips items while others are deleted, so absence from a
// listing alone proves little.
func (p *Poller) planDeletes(ctx context.Context, w *walk, pl *plan) {
	var expireBefore int64
	if ttl := p.cfg.TombstoneTTL; ttl > 0 {
		expireBefore = p.cfg.Now().Add(-ttl).Unix()
	}
	fresh, again, expired := w.missing(expireBefore)
	pl.drop = expired
	for _, id := range fresh {
		ne := w.ix.get(id).entry()
		ne.Suspect = true
		pl.updates = append(pl.updates, EntryUpdate{ID: id, Entry: ne})
	}
	pl.suspected = len(fresh)
	if !p.guardReleases(pl, len(again), w.listed) {
		pl.held = len(again)
		pl.suspected += len(again)
		return
	}
	if len(again) > p.cfg.MaxExistsChecks {
		// The rest stay suspected and are checked by the next covered listings.
		pl.suspected += len(again) - p.cfg.MaxExistsChecks
		again = again[:p.cfg.MaxExistsChecks]
	}
	gone, alive, unknown := p.checkGone(ctx, again)
	deletedAt := p.cfg.Now().Unix()
	for _, id := range gone {
		ne := Entry{ChangeNo: w.ix.get(id).changeNo + 1, Deleted: true, DeletedAt: deletedAt}
		pl.changes = append(pl.changes, change{op: schema.OpDeleted, id: id, entry: ne})
		pl.updates = append(pl.updates, EntryUpdate{ID: id, Entry: ne})
		pl.deleted++
	}
	for _, id := range alive {
		ne := w.ix.get(id).entry()
		ne.Suspect = false
		pl.updates = append(pl.updates, EntryUpdate{ID: id, Entry: ne})
	}
	pl.cleared = len(alive)
	pl.suspected += len(unknown)
}

// checkGone asks Reten about each suspect, a few at a time: gone are those it says are not
// listed any more (or that carry nothing to ask by), alive those it still lists, unknown
// those whose check failed; they stay suspected.
func (p *Poller) checkGone(ctx context.Context, ids []string) (gone, alive, unknown []string) {
	if len(ids) == 0 {
		return nil, nil, nil
	}
	prev, err := p.cfg.Store.LoadPublished(ctx, ids)
	if err != nil {
		p.log.Warn().Err(err).Int("suspects", len(ids)).Msg("cannot read suspects' last versions: deletes wait for the next listing")
		return nil, nil, ids
	}
	type verdict struct{ exists, checked, failed bool }
	verdicts := make([]verdict, len(ids))
	sem := make(chan struct{}, max(p.cfg.List.Concurrency, 1))
	var wg sync.WaitGroup
	var logOnce sync.Once
	for i, id := range ids {
		raw, ok := prev[id]
		if !ok {
			continue // nothing to ask by: two covered listings are the proof
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			exists, checked, err := p.cfg.Lister.TaskExists(ctx, schema.Task{ID: id, Raw: raw})
			if err != nil {
				logOnce.Do(func() {
					p.log.Warn().Err(err).Msg("checking a suspected delete failed: it stays suspected")
				})
				verdicts[i] = verdict{failed: true}
				return
			}
			verdicts[i] = verdict{exists: exists, checked: checked}
		}()
	}
	wg.Wait()
	for i, id := range ids {
		switch v := verdicts[i]; {
		case v.failed:
			unknown = append(unknown, id)
		case v.checked && v.exists:
			alive = append(alive, id)
		default:
			gone = append(gone, id)
		}
	}
	if len(alive) > 0 {
		p.log.Info().Int("tasks", len(alive)).Msg("suspected deletes still listed by a filtered query: kept (the listing skipped them)")
	}
	return gone, alive, unknown
}

// guardReleases decides whether n confirmed deletes may go out, counting in pl.meta the
// consecutive covered listings that would have deleted too much.
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
			Msg("mass delete confirmed by consecutive covered listings: releasing held deletes")
		pl.meta.GuardCycles = 0
		return true
	}
	p.log.Warn().Int("deletes_held", n).Int("snapshot", pl.live).Int("listed", listed).
		Float64("max_share", g.MaxShare).Int("agreeing_listings", pl.meta.GuardCycles).
		Int("needed", g.ConfirmCycles).
		Msg("mass delete guard: holding deletes until enough consecutive covered listings agree")
	return false
}
