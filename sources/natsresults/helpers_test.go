package natsresults_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/reten/reten-relay/relay"
	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/sources/natsresults"
)

var _ relay.ResultSource = (*natsresults.Source)(nil)

// setup starts a NATS server and connects to it the way the relay does: reconnecting forever.
func setup(t *testing.T) (*relaytest.NATS, *nats.Conn, jetstream.JetStream, context.Context) {
	t.Helper()
	n := relaytest.StartNATS(t)
	nc, err := nats.Connect(n.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return n, nc, js, ctx
}

func newSource(t *testing.T, ctx context.Context, nc *nats.Conn, cfg natsresults.Config) *natsresults.Source {
	t.Helper()
	if cfg.Subjects == nil {
		cfg.Subjects = []string{"reten.results.>"}
	}
	s, err := natsresults.New(ctx, nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func publish(t *testing.T, ctx context.Context, js jetstream.JetStream, subject, body string) {
	t.Helper()
	if _, err := js.Publish(ctx, subject, []byte(body)); err != nil {
		t.Fatal(err)
	}
}

func receive(t *testing.T, ctx context.Context, s *natsresults.Source) schema.Received {
	t.Helper()
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	m, err := s.Receive(rctx)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	return m
}

func consumerInfo(t *testing.T, ctx context.Context, js jetstream.JetStream, stream, durable string) *jetstream.ConsumerInfo {
	t.Helper()
	c, err := js.Consumer(ctx, stream, durable)
	if err != nil {
		t.Fatal(err)
	}
	ci, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return ci
}

// logBuffer is a zerolog destination safe for concurrent writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() zerolog.Logger { return zerolog.New(b) }
