package tasks

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/reten/reten-relay/schema"
)

// LegacyEvent is an event an older version left in its single outbox: encoded, not yet
// routed.
type LegacyEvent struct {
	// TaskID, EventID and Body are as that version stored them.
	TaskID, EventID string
	// Body is the encoded CloudEvent.
	Body []byte
}

// legacyStore is a store that may hold an older version's outbox (relay/state.Store).
type legacyStore interface {
	// LegacyOutbox returns the old outbox's events, oldest first.
	LegacyOutbox(ctx context.Context) ([]LegacyEvent, error)
}

// migrateOutbox routes the events an older version left unpublished and queues them like
// new ones, in one commit that also drops the old outbox: nothing is lost on upgrade, and
// the bytes (so the ids) stay what they were.
func (p *Poller) migrateOutbox(ctx context.Context) error {
	ls, ok := p.cfg.Store.(legacyStore)
	if !ok {
		return nil
	}
	old, err := ls.LegacyOutbox(ctx)
	if err != nil || len(old) == 0 {
		return err
	}
	router := *p.router.Load()
	limits := p.sinkLimits()
	c := Commit{Meta: p.meta, DropLegacyOutbox: true}
	for _, le := range old {
		var ev schema.Event
		if err := json.Unmarshal(le.Body, &ev); err != nil {
			p.log.Error().Err(err).Str("event_id", le.EventID).Str("task_id", le.TaskID).
				Msg("dropping an undecodable event of the old outbox")
			continue
		}
		oe, err := p.routed(ev, le.Body, router.Route(ev), limits)
		if err != nil {
			return fmt.Errorf("migrate the old outbox: %w", err)
		}
		if len(oe.Targets) > 0 {
			c.Events = append(c.Events, oe)
		}
	}
	if err := p.cfg.Store.Commit(ctx, c); err != nil {
		return fmt.Errorf("migrate the old outbox: %w", err)
	}
	p.log.Info().Int("events", len(old)).Int("queued", len(c.Events)).Msg("old outbox migrated to per-sink queues")
	return nil
}
