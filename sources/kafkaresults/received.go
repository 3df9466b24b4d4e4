package kafkaresults

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/reten/reten-relay/schema"
)

// received wraps a record with its settle funcs. deliveries and first carry over retries.
func (s *Source) received(g *generation, p *partition, m kafka.Message, deliveries int, first time.Time) schema.Received {
	r := schema.Received{
		Body:           m.Value,
		Key:            string(m.Key),
		Origin:         schema.Origin{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset},
		Deliveries:     deliveries,
		FirstDelivered: first,
	}
	if len(m.Headers) > 0 {
		r.Headers = make(map[string]string, len(m.Headers))
		for _, h := range m.Headers {
			if _, dup := r.Headers[h.Key]; !dup {
				r.Headers[h.Key] = string(h.Value)
			}
		}
	}
	var (
		mu      sync.Mutex
		settled bool
	)
	claim := func() bool {
		mu.Lock()
		defer mu.Unlock()
		if settled {
			return false
		}
		settled = true
		return true
	}
	where := fmt.Sprintf("%s/%d@%d", m.Topic, m.Partition, m.Offset)
	r.Ack = func(context.Context) error {
		if !claim() {
			return ErrAlreadySettled
		}
		moved, err := p.settle(m.Offset)
		<-p.slots
		if err != nil {
			return fmt.Errorf("ack result message %s: %w", where, err)
		}
		if moved {
			select {
			case g.dirty <- struct{}{}:
			default:
			}
		}
		return nil
	}
	r.Retry = func(_ context.Context, delay time.Duration) error {
		if !claim() {
			return ErrAlreadySettled
		}
		if p.isRevoked() {
			return fmt.Errorf("retry result message %s: %w", where, ErrPartitionRevoked)
		}
		// The message keeps its slot while it waits, so a partition whose messages all
		// wait stops fetching.
		go s.redeliver(g, m, p, deliveries+1, first, delay)
		return nil
	}
	return r
}

// redeliver hands m out again after delay, unless its generation ends or the source closes
// first (then the partition's next owner reads it from the broker).
func (s *Source) redeliver(g *generation, m kafka.Message, p *partition, deliveries int, first time.Time, delay time.Duration) {
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-g.ctx.Done():
		return
	case <-s.stop:
		return
	}
	select {
	case s.out <- s.received(g, p, m, deliveries, first):
	case <-g.ctx.Done():
	case <-s.stop:
	}
}
