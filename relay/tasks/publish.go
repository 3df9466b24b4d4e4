package tasks

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/reten/reten-relay/relay"
	"github.com/reten/reten-relay/schema"
)

// drain publishes the outbox batch by batch, oldest first, and removes each batch once
// every sink confirmed it. It stops at the first failure: the batch stays in the outbox and
// is published again (same bytes, same ids) by the next drain.
func (p *Poller) drain(ctx context.Context, router relay.Router, rep *CycleReport) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		batch, err := p.cfg.Store.Outbox(ctx, p.cfg.PublishBatch)
		if err != nil {
			return fmt.Errorf("read outbox: %w", err)
		}
		if len(batch) == 0 {
			return nil
		}
		unrouted, err := p.publishBatch(ctx, router, batch)
		if err != nil {
			return err
		}
		if h := p.cfg.Hooks.AfterPublish; h != nil {
			h()
		}
		seqs := make([]uint64, len(batch))
		for i, e := range batch {
			seqs[i] = e.Seq
		}
		// The sinks confirmed: record that even if we are shutting down, or the batch is
		// published twice for nothing.
		if err := p.cfg.Store.Ack(context.WithoutCancel(ctx), seqs); err != nil {
			return fmt.Errorf("remove %d published events from outbox: %w", len(seqs), err)
		}
		p.pending = max(p.pending-len(batch), 0)
		p.setPending()
		rep.Published += len(batch) - unrouted
		rep.Unrouted += unrouted
		if p.cfg.Metrics != nil && unrouted > 0 {
			p.cfg.Metrics.Unrouted.Add(float64(unrouted))
		}
	}
}

// sinkBatch is what one sink gets of an outbox batch.
type sinkBatch struct {
	msgs []schema.Message
	ops  []schema.Op
}

// publishBatch routes every event of batch and publishes the messages per sink, in outbox
// order. It returns how many events matched no route.
func (p *Poller) publishBatch(ctx context.Context, router relay.Router, batch []OutboxEvent) (int, error) {
	perSink := make(map[string]*sinkBatch)
	unrouted := 0
	for _, oe := range batch {
		ev, err := decodeEvent(oe.Body)
		if err != nil {
			// Our own bytes do not decode: the state file is damaged. Skipping the event
			// is the only way forward; say so loudly.
			p.log.Error().Err(err).Str("event_id", oe.EventID).Str("task_id", oe.TaskID).
				Msg("dropping undecodable outbox event")
			unrouted++
			continue
		}
		targets := router.Route(ev)
		if len(targets) == 0 {
			p.log.Debug().Str("event_id", oe.EventID).Str("task_id", oe.TaskID).Str("op", string(oe.Op)).
				Msg("event matched no route")
			unrouted++
			continue
		}
		for _, t := range targets {
			if _, ok := p.cfg.Sinks[t.Sink]; !ok {
				return 0, fmt.Errorf("%w: route %q names sink %q", ErrUnknownSink, t.Route, t.Sink)
			}
			sb := perSink[t.Sink]
			if sb == nil {
				sb = &sinkBatch{}
				perSink[t.Sink] = sb
			}
			sb.msgs = append(sb.msgs, message(ev, oe.Body, t))
			sb.ops = append(sb.ops, oe.Op)
		}
	}
	names := make([]string, 0, len(perSink))
	for name := range perSink {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		sb := perSink[name]
		start := time.Now()
		err := p.cfg.Sinks[name].Publish(ctx, sb.msgs)
		if err != nil {
			return 0, fmt.Errorf("publish %d messages to sink %s: %w", len(sb.msgs), name, err)
		}
		if m := p.cfg.Metrics; m != nil {
			m.PublishSeconds.WithLabelValues(name).Observe(time.Since(start).Seconds())
			for _, op := range sb.ops {
				m.Events.WithLabelValues(string(op), name).Inc()
			}
		}
	}
	return unrouted, nil
}
