package natsstreams_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/sinks/natsstreams"
)

func jetStream(t *testing.T) (jetstream.JetStream, context.Context) {
	t.Helper()
	srv := relaytest.StartNATS(t)
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return js, ctx
}

func TestEnsure_CreatesBoundedStreamsAndLeavesNothingHalfMadeOnFailure(t *testing.T) {
	js, ctx := jetStream(t)
	limits := natsstreams.Limits{MaxAge: time.Hour, MaxBytes: 1 << 20}
	// The second stream cannot be made (an invalid subject): the first must not stay.
	bad := natsstreams.Need{Purpose: "results.outcomes", Subject: "bad..subject", Stream: "RETEN_OUTCOMES"}
	if _, _, err := natsstreams.Ensure(ctx, js, []natsstreams.Need{route("all", "reten.tasks.*"), bad}, limits, zerolog.Nop()); err == nil {
		t.Fatal("Ensure with an invalid subject succeeded")
	}
	if _, err := js.Stream(ctx, "RETEN_TASKS"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("a failed Ensure left RETEN_TASKS behind: %v", err)
	}

	plan, _, err := natsstreams.Ensure(ctx, js, []natsstreams.Need{route("all", "reten.tasks.*"), dlq}, limits, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if !plan[0].Created || !plan[1].Created {
		t.Fatalf("plan = %+v, want both created", plan)
	}
	for name, discard := range map[string]jetstream.DiscardPolicy{"RETEN_TASKS": jetstream.DiscardOld, "RETEN_DLQ": jetstream.DiscardNew} {
		st, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		c := st.CachedInfo().Config
		if c.MaxAge != time.Hour || c.MaxBytes != 1<<20 || c.Replicas != 1 || c.Storage != jetstream.FileStorage || c.Discard != discard {
			t.Fatalf("stream %s config = %+v", name, c)
		}
	}
	// Ensuring again changes nothing and creates nothing.
	again, _, err := natsstreams.Ensure(ctx, js, []natsstreams.Need{route("all", "reten.tasks.*"), dlq}, natsstreams.Limits{MaxAge: time.Minute}, zerolog.Nop())
	if err != nil || again[0].Created || again[0].Stream != "RETEN_TASKS" {
		t.Fatalf("second Ensure = %+v, %v", again, err)
	}
	if st, _ := js.Stream(ctx, "RETEN_TASKS"); st.CachedInfo().Config.MaxAge != time.Hour {
		t.Fatal("a second Ensure changed an existing stream")
	}
}

// After an account's last stream is deleted, nats-server removes its streams directory in
// the background; a stream created at that moment fails with "error creating store for
// stream" (seen in CI as a set-up undone and made again). Ensure outlasts that.
func TestEnsure_OutlastsTheServersCleanupAfterTheLastStreamIsDeleted(t *testing.T) {
	js, ctx := jetStream(t)
	for i := range 200 {
		if _, _, err := natsstreams.Ensure(ctx, js, []natsstreams.Need{route("all", "reten.tasks.*")}, natsstreams.Limits{}, zerolog.Nop()); err != nil {
			t.Fatalf("ensure %d: %v", i, err)
		}
		if err := js.DeleteStream(ctx, "RETEN_TASKS"); err != nil {
			t.Fatal(err)
		}
	}
}
