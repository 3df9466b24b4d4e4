package natssink_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/reten/reten-relay/relay"
	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/sinks/natssink"
	"github.com/reten/reten-relay/sinks/sinktest"
)

// testTimeout bounds every blocking step of these tests.
const testTimeout = 20 * time.Second

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// newSink starts a sink on url with short test timings; t.Cleanup closes it.
func newSink(t testing.TB, url string, cfg natssink.Config, opts ...natssink.Option) *natssink.Sink {
	t.Helper()
	cfg.URL = url
	if cfg.ReconnectWait == 0 {
		cfg.ReconnectWait = 20 * time.Millisecond
	}
	s, err := natssink.New(testContext(t), cfg, opts...)
	if err != nil {
		t.Fatalf("new sink: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// connect opens a plain client connection for reading what the sink wrote.
func connect(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, nats.ReconnectWait(20*time.Millisecond))
	if err != nil {
		t.Fatalf("connect reader: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream reader: %v", err)
	}
	return nc, js
}

func createStream(t testing.TB, js jetstream.JetStream, name string, subjects ...string) jetstream.Stream {
	t.Helper()
	st, err := js.CreateStream(testContext(t), jetstream.StreamConfig{Name: name, Subjects: subjects})
	if err != nil {
		t.Fatalf("create stream %s: %v", name, err)
	}
	return st
}

// readStream reads the first n messages of subject in stream with an ordered consumer.
func readStream(t testing.TB, js jetstream.JetStream, stream, subject string, n int) []sinktest.Received {
	t.Helper()
	ctx := testContext(t)
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		t.Fatalf("ordered consumer on %s: %v", subject, err)
	}
	var got []sinktest.Received
	for len(got) < n {
		batch, err := cons.Fetch(n-len(got), jetstream.FetchMaxWait(time.Second))
		if err != nil {
			t.Fatalf("fetch from %s: %v", subject, err)
		}
		for m := range batch.Messages() {
			got = append(got, received(m.Headers(), m.Data()))
		}
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d messages from %s before the deadline", len(got), n, subject)
		}
	}
	return got
}

func received(h nats.Header, body []byte) sinktest.Received {
	r := sinktest.Received{ID: h.Get(jetstream.MsgIDHeader), Headers: map[string]string{}, Body: body}
	for k, v := range h {
		// The conformance suite speaks schema.Message's names (ce_type); NATS carries
		// the binding's (ce-type).
		if rest, ok := strings.CutPrefix(k, "ce-"); ok {
			k = "ce_" + rest
		}
		r.Headers[k] = v[0]
	}
	return r
}

func TestSink_Conformance(t *testing.T) {
	srv := relaytest.StartNATS(t)
	_, js := connect(t, srv.URL())
	createStream(t, js, "SINKTEST", "sinktest.>")
	var n atomic.Int64
	sinktest.Run(t, func(t *testing.T) relay.Sink {
		return newSink(t, srv.URL(), natssink.Config{})
	}, sinktest.Features{
		ErrClosed:      natssink.ErrClosed,
		NewDestination: func(*testing.T) string { return fmt.Sprintf("sinktest.%d", n.Add(1)) },
		Read: func(t *testing.T, subject string, n int) []sinktest.Received {
			return readStream(t, js, "SINKTEST", subject, n)
		},
		Timeout: testTimeout,
	})
}

// quietLogger is the logger tests use when they don't look at the log.
var quietLogger = natssink.WithLogger(zerolog.Nop())
