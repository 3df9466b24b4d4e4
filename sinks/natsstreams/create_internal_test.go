package natsstreams

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/reten/reten-relay/relay/relaytest"
)

// After an account's last stream is deleted, nats-server removes its streams directory in
// the background; a stream created at that moment fails with "error creating store for
// stream" (seen in CI as a set-up undone and tried again). createStream outlasts that.
func TestCreateStream_OutlastsTheServersCleanupAfterTheLastStreamIsDeleted(t *testing.T) {
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
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	for i := range 200 {
		if err := createStream(ctx, js, jetstream.StreamConfig{Name: "S", Subjects: []string{"s"}}); err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
		if err := js.DeleteStream(ctx, "S"); err != nil {
			t.Fatal(err)
		}
	}
}
