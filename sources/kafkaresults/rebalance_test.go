package kafkaresults_test

import (
	"errors"
	"testing"

	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/sources/kafkaresults"
)

func TestSource_RebalanceHandsUnsettledMessagesToTheNextOwner(t *testing.T) {
	k, ctx := startKafka(t, 2)
	a := newSource(t, ctx, fastConfig(k))
	produce(t, ctx, k, 1, 0, 1)
	old := []schema.Received{receive(t, ctx, a), receive(t, ctx, a)} // a owns both partitions

	// b joins: the group splits the partitions, and each new owner starts from the
	// committed offset, so the unsettled messages come again.
	b := newSource(t, ctx, fastConfig(k))
	fromB := receive(t, ctx, b)
	for _, m := range old {
		if err := m.Ack(ctx); !errors.Is(err, kafkaresults.ErrPartitionRevoked) {
			t.Fatalf("ack of %s from the ended generation = %v, want ErrPartitionRevoked", m.Key, err)
		}
	}
	fromA := receive(t, ctx, a)
	if fromA.Origin.Partition == fromB.Origin.Partition || fromA.Origin.Offset != 0 || fromB.Origin.Offset != 0 {
		t.Fatalf("after the rebalance a got %+v and b got %+v; want offset 0 of each partition", fromA.Origin, fromB.Origin)
	}
	ack(t, ctx, fromA)
	ack(t, ctx, fromB)

	// Both settled and committed: a third member of the group gets nothing old.
	for _, s := range []*kafkaresults.Source{a, b} {
		if err := s.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	produce(t, ctx, k, 1, 0)
	c := newSource(t, ctx, fastConfig(k))
	if m := receive(t, ctx, c); m.Origin.Partition != 0 || m.Origin.Offset != 1 {
		t.Fatalf("after the settled rebalance a new member got %+v, want partition 0 offset 1", m.Origin)
	}
}
