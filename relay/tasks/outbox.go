package tasks

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/reten/reten-relay/relay"
	"github.com/reten/reten-relay/schema"
)

// buildEvents encodes the plan's changes and routes them: each event goes into the outbox
// with its messages already addressed (sink, destination, key), so the drain parses
// nothing, and with a trimmed body for a sink that could not take the whole event. It
// returns how many events matched no route; those are not stored.
func (p *Poller) buildEvents(ctx context.Context, pl *plan, router relay.Router, at time.Time) ([]OutboxEvent, int, error) {
	var ids []string
	for _, c := range pl.changes {
		if c.op != schema.OpCreated {
			ids = append(ids, c.id)
		}
	}
	var prev map[string][]byte
	if len(ids) > 0 {
		var err error
		if prev, err = p.cfg.Store.LoadPublished(ctx, ids); err != nil {
			return nil, 0, fmt.Errorf("load previous versions of %d tasks: %w", len(ids), err)
		}
	}
	limits := p.sinkLimits()
	out := make([]OutboxEvent, 0, len(pl.changes))
	unrouted := 0
	var h hasher
	bodies := bodyBlocks{}
	for _, c := range pl.changes {
		bodies.left += eventEnvelope + len(c.raw)
	}
	for k := range pl.changes {
		c := &pl.changes[k]
		var previous []byte
		var changed []string
		if c.op != schema.OpCreated {
			previous = prev[c.id]
		}
		if c.unsure && previous != nil {
			if full, err := h.contentHash(previous); err == nil && full == c.full {
				pl.sameContent(c)
				continue
			}
		}
		if c.op == schema.OpUpdated {
			changed = changedFields(previous, c.raw)
		}
		id := eventID(p.cfg.Source, c.id, c.entry.ChangeNo, c.full)
		ev := schema.NewEvent(p.cfg.Source, id, c.id, c.op, at, c.raw, previous, changed)
		body, taskAt, err := bodies.encode(ev)
		if err != nil {
			return nil, 0, err
		}
		oe, err := p.routed(ev, body, router.Route(ev), limits)
		if err != nil {
			return nil, 0, err
		}
		if len(oe.Targets) == 0 {
			unrouted++
			continue
		}
		if len(c.raw) > 0 { // appendRaw copied it as it is
			// Up to the body's capacity, so the store can tell where it is (state.taskIn).
			c.inEvent = body[taskAt : taskAt+len(c.raw)]
		}
		out = append(out, oe)
	}
	pl.publishedInEvents()
	return out, unrouted, nil
}

// sameContent turns update c, of a task whose previous version turned out to be the same
// content in another form, into what plan makes of one: no event, the new raw hash, the
// stored version kept. Updates are sorted by id (sortUpdates).
func (pl *plan) sameContent(c *change) {
	i := sort.Search(len(pl.updates), func(i int) bool { return pl.updates[i].ID >= c.id })
	if i < len(pl.updates) && pl.updates[i].ID == c.id {
		e := c.entry
		e.ChangeNo--
		pl.updates[i].Entry, pl.updates[i].Published = e, nil
	}
	pl.updated--
	c.raw = nil
}

// publishedInEvents points the published JSON of each update that is its change's listed
// JSON (the same bytes, as plan makes them) at the copy in the change's event: the store
// then sees that the event holds it without comparing a kilobyte per task (state.taskIn),
// and the listed copy is garbage before the commit instead of after it. Changes and
// updates are both sorted by id (sortUpdates).
func (pl *plan) publishedInEvents() {
	j := 0
	for k := range pl.changes {
		c := &pl.changes[k]
		for j < len(pl.updates) && pl.updates[j].ID < c.id {
			j++
		}
		if j < len(pl.updates) && c.inEvent != nil {
			if u := &pl.updates[j]; u.ID == c.id && sameBytes(u.Published, c.raw) {
				u.Published = c.inEvent
			}
		}
		c.raw, c.inEvent = nil, nil
	}
}

// sameBytes reports whether a and b are the same slice of the same array.
func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && len(a) > 0 && &a[0] == &b[0]
}

// routed addresses an encoded event to its targets, trimmed for a sink that cannot take
// the whole of it.
func (p *Poller) routed(ev schema.Event, body []byte, targets []relay.Target, limits map[string]int) (OutboxEvent, error) {
	oe := OutboxEvent{Head: EventHead{TaskID: ev.Subject, EventID: ev.ID, Op: ev.Data.Op, Source: ev.Source}, Body: body}
	for _, t := range targets {
		if _, ok := p.cfg.Sinks[t.Sink]; !ok {
			return OutboxEvent{}, fmt.Errorf("%w: route %q names sink %q", ErrUnknownSink, t.Route, t.Sink)
		}
		qt := QueuedTarget{Route: t.Route, Sink: t.Sink, Destination: t.Destination, Key: t.Key}
		if limit := limits[t.Sink]; limit > 0 && len(body)+headerRoom > limit {
			var err error
			if qt.Body, err = trimEvent(ev, len(body), limit-headerRoom); err != nil {
				return OutboxEvent{}, err
			}
			p.log.Warn().Str("task_id", ev.Subject).Str("event_id", ev.ID).Str("sink", t.Sink).
				Int("size", len(body)).Int("limit", limit).Int("trimmed", len(qt.Body)).
				Msg("event larger than the sink accepts: publishing it trimmed (data.truncated)")
		}
		oe.Targets = append(oe.Targets, qt)
	}
	return oe, nil
}

// sinkLimits asks each sink that can tell for its message size limit.
func (p *Poller) sinkLimits() map[string]int {
	m := make(map[string]int, len(p.cfg.Sinks))
	for name, s := range p.cfg.Sinks {
		if l, ok := s.(sizeLimited); ok {
			m[name] = l.MaxMessageBytes()
		}
	}
	return m
}

// messageOf rebuilds the message of a queued entry without parsing its body: the headers
// come from the event's head, the address from the routing decision stored with it.
func messageOf(q Queued) schema.Message {
	ev := schema.Event{
		SpecVersion: schema.SpecVersion,
		ID:          q.Head.EventID,
		Source:      q.Head.Source,
		Type:        schema.EventTypePrefix + string(q.Head.Op),
		Subject:     q.Head.TaskID,
	}
	t := relay.Target{Route: q.Target.Route, Sink: q.Target.Sink, Destination: q.Target.Destination, Key: q.Target.Key}
	return message(ev, q.Body, t)
}

// bodyBlocks encodes a plan's event bodies into shared blocks: one allocation per ~400
// events of 1 KB instead of one each (a first sync's 100,000). A block lives until its
// last body is published, as the bodies of a chunk are, about together.
type bodyBlocks struct {
	block []byte
	left  int // about the bytes of the events still to encode
}

// bodyBlock is the most one block holds.
const bodyBlock = 512 << 10

// encode encodes ev into the block and returns its body, capped at its end (taskIn finds
// data.task by the capacities).
func (a *bodyBlocks) encode(ev schema.Event) (body []byte, taskAt int, err error) {
	need := eventSize(ev)
	if cap(a.block)-len(a.block) < need {
		a.block = make([]byte, 0, max(need, min(a.left, bodyBlock)))
	}
	a.left -= need
	n, room := len(a.block), cap(a.block)-len(a.block)
	b, taskAt, err := appendEventAt(a.block[n:n:cap(a.block)], ev)
	if err != nil || cap(b) != room { // it outgrew its room: an array of its own
		return b, taskAt, err
	}
	a.block = a.block[:n+len(b)]
	return b[:len(b):len(b)], taskAt, nil
}
