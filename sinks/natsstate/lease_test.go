package natsstate_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/sinks/natsstate"
)

func TestLease_OneOfSeveralTakesAFreeLease(t *testing.T) {
	url := relaytest.StartNATS(t).URL()
	won := 0
	for _, name := range []string{"a", "b", "c"} {
		s := open(t, url, name, 10*time.Second)
		if ok, err := s.Lease().TryAcquire(context.Background()); err != nil {
			t.Fatal(err)
		} else if ok {
			won++
		}
		if h := s.Lease().Holder(); h != "a" {
			t.Errorf("%s sees holder %q, want a", name, h)
		}
	}
	if won != 1 {
		t.Fatalf("%d replicas hold the lease", won)
	}
}

func TestLease_ExpiresWhenTheHolderStopsRenewing(t *testing.T) {
	url := relaytest.StartNATS(t).URL()
	a := open(t, url, "a", time.Second)
	if ok, _ := a.Lease().TryAcquire(context.Background()); !ok {
		t.Fatal("a did not take the free lease")
	}
	b := open(t, url, "b", time.Second)
	relaytest.WaitFor(t, 10*time.Second, "b to take the expired lease", func() bool {
		ok, err := b.Lease().TryAcquire(context.Background())
		return ok && err == nil
	})
	if a.Lease().Holding() {
		t.Fatal("a still counts itself as the holder after its lease ran out")
	}
}

func TestStore_AStaleHoldersCommitFailsWhole(t *testing.T) {
	ctx := context.Background()
	url := relaytest.StartNATS(t).URL()
	a := holder(t, url, "a")
	// a's lease goes (as if it expired while a was paused) and b takes it.
	kv := kvOf(t, url)
	if err := kv.Delete(ctx, "lease"); err != nil {
		t.Fatal(err)
	}
	b := holder(t, url, "b")
	err := a.Commit(ctx, schema.StateCommit{
		Entries: []schema.TaskEntryUpdate{{ID: "x", Entry: schema.TaskEntry{ChangeNo: 1}, Published: []byte(`{}`)}},
		Events:  []schema.OutboxEvent{{Head: schema.EventHead{TaskID: "x", EventID: "stale", Op: schema.OpCreated}, Body: []byte(`{}`), Targets: []schema.QueuedTarget{{Sink: "nats"}}}},
		Meta:    schema.StateMeta{Synced: true},
	})
	if !errors.Is(err, natsstate.ErrNotHolder) || !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		t.Fatalf("stale commit: %v, want ErrNotHolder and ErrKeyRevisionMismatch", err)
	}
	if got := index(t, b); len(got) != 0 {
		t.Fatalf("the stale commit left entries %v", got)
	}
	if p, _ := b.Pending(ctx); p["nats"] != 0 {
		t.Fatalf("the stale commit left outbox records %v", p)
	}
	if m, _ := b.LoadMeta(ctx); m.Synced {
		t.Fatal("the stale commit wrote the meta")
	}
	if a.Lease().Holding() {
		t.Fatal("a still counts itself as the holder")
	}
	if _, err := a.Outbox(ctx, "nats", nil, 1); !errors.Is(err, natsstate.ErrNotHolder) {
		t.Fatalf("a stale holder read the outbox: %v", err)
	}
}

func TestStore_ALargeCommitGoesInSelfConsistentBatches(t *testing.T) {
	ctx := context.Background()
	url := relaytest.StartNATS(t).URL()
	s := holder(t, url, "a")
	const n = 2500                                                                  // three entries/records per task: several batches
	big := bytes.Repeat([]byte(`{"k":"a long and very repetitive value"},`), 40000) // 1.6 MB, compresses
	var c schema.StateCommit
	for i := range n {
		id := fmt.Sprintf("task-%05d", i)
		pub := []byte(fmt.Sprintf(`{"id":%q}`, id))
		if i == 7 {
			pub = big
		}
		c.Entries = append(c.Entries, schema.TaskEntryUpdate{ID: id, Entry: schema.TaskEntry{ChangeNo: 1}, Published: pub})
		c.Events = append(c.Events, schema.OutboxEvent{Head: schema.EventHead{TaskID: id, EventID: "e" + id, Op: schema.OpCreated},
			Body: pub[:min(len(pub), 100)], Targets: []schema.QueuedTarget{{Sink: "nats"}}})
	}
	c.Meta = schema.StateMeta{Synced: true}
	if err := s.Commit(ctx, c); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if got := index(t, s); len(got) != n {
		t.Fatalf("%d entries, want %d", len(got), n)
	}
	pub, err := s.LoadPublished(ctx, []string{"task-00007", "task-02499"})
	if err != nil || !bytes.Equal(pub["task-00007"], big) || string(pub["task-02499"]) != `{"id":"task-02499"}` {
		t.Fatalf("published: %d bytes, %q, %v", len(pub["task-00007"]), pub["task-02499"], err)
	}
	var all []schema.Queued
	var after *schema.QueuePos
	for {
		qs, err := s.Outbox(ctx, "nats", after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(qs) == 0 {
			break
		}
		all = append(all, qs...)
		after = &qs[len(qs)-1].Pos
	}
	if len(all) != n {
		t.Fatalf("outbox holds %d messages, want %d", len(all), n)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Pos.Seq <= all[i-1].Pos.Seq {
			t.Fatalf("outbox out of order at %d", i)
		}
	}
}

func TestStore_AnExistingBucketIsUsedAsItIs(t *testing.T) {
	ctx := context.Background()
	url := relaytest.StartNATS(t).URL()
	js, _ := jetstream.New(connect(t, url))
	if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "STATE", History: 5}); err != nil {
		t.Fatal(err)
	}
	s := holder(t, url, "a")
	for i := range 3 {
		if err := s.Commit(ctx, schema.StateCommit{Entries: []schema.TaskEntryUpdate{{ID: "x", Entry: schema.TaskEntry{ChangeNo: uint64(i + 1)}}}}); err != nil {
			t.Fatal(err)
		}
	}
	if e := index(t, s)["x"]; e.ChangeNo != 3 {
		t.Fatalf("entry = %+v, want the last of three revisions", e)
	}
	kv, _ := js.KeyValue(ctx, "STATE")
	st, _ := kv.Status(ctx)
	if st.History() != 5 {
		t.Fatalf("history = %d, the operator's 5 must stay", st.History())
	}
}

func kvOf(t *testing.T, url string) jetstream.KeyValue {
	t.Helper()
	js, _ := jetstream.New(connect(t, url))
	kv, err := js.KeyValue(context.Background(), "STATE")
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

func TestLease_ABucketWithoutTTLsStillHandsOver(t *testing.T) {
	ctx := context.Background()
	url := relaytest.StartNATS(t).URL()
	js, _ := jetstream.New(connect(t, url))
	if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "STATE"}); err != nil { // no per-message TTLs
		t.Fatal(err)
	}
	a := open(t, url, "a", time.Second)
	if ok, _ := a.Lease().TryAcquire(ctx); !ok {
		t.Fatal("a did not take the free lease")
	}
	// a stops renewing; the key never expires, but b sees its revision unchanged for a TTL.
	b := open(t, url, "b", time.Second)
	relaytest.WaitFor(t, 10*time.Second, "b to take the lease a stopped renewing", func() bool {
		ok, err := b.Lease().TryAcquire(ctx)
		return ok && err == nil
	})
	if err := a.Commit(ctx, schema.StateCommit{Meta: schema.StateMeta{Synced: true}}); !errors.Is(err, natsstate.ErrNotHolder) {
		t.Fatalf("a's commit after b took over: %v", err)
	}
}

// runLease runs s's campaign in the background; terms count their starts and block until
// their ctx ends.
func runLease(t *testing.T, s *natsstate.Store) (terms *atomic.Int32, stop func()) {
	t.Helper()
	terms = &atomic.Int32{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- s.Lease().Run(ctx, func(ctx context.Context) error {
			terms.Add(1)
			<-ctx.Done()
			return nil
		})
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return terms, stop
}

func TestLease_RunGivesTheLeaseUpOnShutdown(t *testing.T) {
	url := relaytest.StartNATS(t).URL()
	a := open(t, url, "a", 5*time.Second)
	aTerms, stopA := runLease(t, a)
	relaytest.WaitFor(t, 10*time.Second, "a to hold the lease", func() bool { return aTerms.Load() == 1 })
	b := open(t, url, "b", 5*time.Second)
	bTerms, _ := runLease(t, b)
	stopA()
	// Well before the 5s TTL could run out: a released the key.
	relaytest.WaitFor(t, 10*time.Second, "b to take the released lease", func() bool { return bTerms.Load() == 1 })
	if h := b.Lease().Holder(); h != "b" {
		t.Fatalf("holder %q", h)
	}
}

func TestLease_RunEndsTheTermWhenTheLeaseIsTaken(t *testing.T) {
	url := relaytest.StartNATS(t).URL()
	a := open(t, url, "a", 2*time.Second)
	aTerms, _ := runLease(t, a)
	relaytest.WaitFor(t, 10*time.Second, "a to hold the lease", func() bool { return a.Lease().Holding() })
	// Someone else writes the key: a's next renewal fails on the revision and a steps down.
	if _, err := kvOf(t, url).Put(context.Background(), "lease", []byte(`{"replica":"x","term":"other"}`)); err != nil {
		t.Fatal(err)
	}
	relaytest.WaitFor(t, 10*time.Second, "a to step down", func() bool { return !a.Lease().Holding() })
	if aTerms.Load() != 1 {
		t.Fatalf("%d terms", aTerms.Load())
	}
}
