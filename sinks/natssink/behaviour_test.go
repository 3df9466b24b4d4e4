package natssink_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/sinks/natssink"
	"github.com/reten/reten-relay/sinks/natsstreams"
)

func TestSink_JetStreamDropsARepublishedID(t *testing.T) {
	srv := relaytest.StartNATS(t)
	_, js := connect(t, srv.URL())
	st := createStream(t, js, "TASKS", "tasks.>")
	s := newSink(t, srv.URL(), natssink.Config{}, quietLogger)
	ctx := testContext(t)
	m := schema.Message{Destination: "tasks.created", ID: "ev-1", Body: []byte(`{}`)}
	for i := range 2 {
		if err := s.Publish(ctx, []schema.Message{m}); err != nil {
			t.Fatalf("publish #%d: %v", i+1, err)
		}
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("stream holds %d messages, want 1: the duplicate was not dropped", info.State.Msgs)
	}
}

func TestSink_CoreSubjectReachesASubscriber(t *testing.T) {
	srv := relaytest.StartNATS(t)
	nc, _ := connect(t, srv.URL())
	sub, err := nc.SubscribeSync("plain.events")
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatalf("flush subscription: %v", err)
	}
	s := newSink(t, srv.URL(), natssink.Config{Streams: []natsstreams.Need{coreNeed("plain.events")}}, quietLogger)
	m := schema.Message{Destination: "plain.events", ID: "ev-7", Headers: map[string]string{"ce_type": "t"}, Body: []byte(`{"a":1}`)}
	if err := s.Publish(testContext(t), []schema.Message{m}); err != nil {
		t.Fatalf("publish: %v", err)
	}
	got, err := sub.NextMsg(testTimeout)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	if string(got.Data) != `{"a":1}` || got.Header.Get(jetstream.MsgIDHeader) != "ev-7" || got.Header.Get("ce-type") != "t" {
		t.Fatalf("got %s with headers %v", got.Data, got.Header)
	}
	if mode := s.Mode("plain.events"); mode != natssink.ModeCore {
		t.Fatalf("Mode: got %q, want %q", mode, natssink.ModeCore)
	}
}

func TestSink_LogsEachSubjectsClassificationOnce(t *testing.T) {
	srv := relaytest.StartNATS(t)
	_, js := connect(t, srv.URL())
	createStream(t, js, "TASKS", "tasks.>")
	var logs relaytest.LogBuffer
	s := newSink(t, srv.URL(), natssink.Config{ClassifyTTL: time.Nanosecond, Streams: []natsstreams.Need{
		coreNeed("plain.events"), {Purpose: "route tasks", Subject: "tasks.*", Stream: "OURS"},
	}}, natssink.WithLogger(zerolog.New(&logs)))
	ctx := testContext(t)
	for i := range 3 {
		msgs := []schema.Message{
			{Destination: "plain.events", Body: []byte(`{}`)},
			{Destination: "tasks.updated", ID: "ev-" + string(rune('a'+i)), Body: []byte(`{}`)},
		}
		if err := s.Publish(ctx, msgs); err != nil {
			t.Fatalf("publish #%d: %v", i+1, err)
		}
	}
	tests := []struct{ name, line string }{
		{"core", "route plain.events: no stream captures plain.events: core NATS (at-most-once)"},
		{"jetstream", "route tasks: tasks.* is captured by stream TASKS"},
	}
	for _, tt := range tests {
		if n := strings.Count(logs.String(), tt.line); n != 1 {
			t.Errorf("%s: logged %d times, want once: %q\nlog:\n%s", tt.name, n, tt.line, logs.String())
		}
	}
}

func TestSink_PublishFailsWhileTheServerIsDownAndWorksAfterItReturns(t *testing.T) {
	srv := relaytest.StartNATS(t)
	_, js := connect(t, srv.URL())
	st := createStream(t, js, "TASKS", "tasks.>")
	s := newSink(t, srv.URL(), natssink.Config{}, quietLogger)
	msg := func(id string) []schema.Message {
		return []schema.Message{{Destination: "tasks.updated", ID: id, Body: []byte(`{}`)}}
	}
	if err := s.Publish(testContext(t), msg("before")); err != nil {
		t.Fatalf("publish before stop: %v", err)
	}

	srv.Stop()
	relaytest.WaitFor(t, testTimeout, "sink to notice the server is gone", func() bool { return !s.Connected() })
	if err := s.Publish(testContext(t), msg("while-reconnecting")); !errors.Is(err, natssink.ErrNotConnected) {
		t.Fatalf("publish while reconnecting: got %v, want ErrNotConnected", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Publish(ctx, msg("during")) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("publish while the server is down returned nil")
		}
		t.Logf("publish failed as expected: %v", err)
	case <-time.After(testTimeout):
		t.Fatalf("publish while the server is down did not return within %s", testTimeout)
	}

	srv.Start()
	relaytest.WaitFor(t, testTimeout, "sink to reconnect", s.Connected)
	if err := s.Publish(testContext(t), msg("after")); err != nil {
		t.Fatalf("publish after restart: %v", err)
	}
	info, err := st.Info(testContext(t))
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	if info.State.Msgs != 2 {
		t.Fatalf("stream holds %d messages, want 2 (before and after)", info.State.Msgs)
	}
}

func TestSink_CreatesAMissingStreamAndLeavesAnExistingOne(t *testing.T) {
	srv := relaytest.StartNATS(t)
	_, js := connect(t, srv.URL())
	createStream(t, js, "KEPT", "kept.>")
	tests := []struct {
		name         string
		need         natsstreams.Need
		stream       string
		wantSubjects []string
		publishTo    string
	}{
		{"A missing stream is created", natsstreams.Need{Purpose: "made", Subject: "made.*", Stream: "MADE"}, "MADE", []string{"made.*"}, "made.x"},
		{"An existing stream keeps its config", natsstreams.Need{Purpose: "kept", Subject: "kept.x", Stream: "OTHER"}, "KEPT", []string{"kept.>"}, "kept.x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSink(t, srv.URL(), natssink.Config{Streams: []natsstreams.Need{tt.need}}, quietLogger)
			if err := s.Publish(testContext(t), []schema.Message{{Destination: tt.publishTo, ID: "1"}}); err != nil {
				t.Fatalf("publish: %v", err)
			}
			st, err := js.Stream(testContext(t), tt.stream)
			if err != nil {
				t.Fatalf("stream %s after the first publish: %v", tt.stream, err)
			}
			if got := st.CachedInfo().Config.Subjects; strings.Join(got, ",") != strings.Join(tt.wantSubjects, ",") {
				t.Fatalf("subjects: got %v, want %v", got, tt.wantSubjects)
			}
			// The message went to the stream (Mode may already have forgotten the decision:
			// the stream-created advisory of our own creation resets it).
			info, err := st.Info(testContext(t))
			if err != nil || info.State.Msgs != 1 {
				t.Fatalf("stream %s holds %v messages (%v), want the one published", tt.stream, info, err)
			}
		})
	}
}

func TestSink_NeverDowngradesAStreamNeedToCoreNATS(t *testing.T) {
	srv := relaytest.StartNATS(t)
	_, js := connect(t, srv.URL())
	createStream(t, js, "RETEN_DLQ", "elsewhere.>")
	s := newSink(t, srv.URL(), natssink.Config{Streams: []natsstreams.Need{
		{Purpose: "results.dead_letter", Subject: "dlq.results", Stream: "RETEN_DLQ", Kind: natsstreams.DeadLetters},
	}}, quietLogger)
	undeclared := newSink(t, srv.URL(), natssink.Config{}, quietLogger)
	tests := []struct {
		sink    *natssink.Sink
		subject string
		want    error
	}{
		{s, "dlq.results", natsstreams.ErrConflict}, // a same-name stream with other subjects
		{undeclared, "undeclared.subject", natsstreams.ErrNoStream},
	}
	for _, tt := range tests {
		err := tt.sink.Publish(testContext(t), []schema.Message{{Destination: tt.subject, ID: "1", Body: []byte("x")}})
		if !errors.Is(err, tt.want) {
			t.Fatalf("publish to %s: got %v, want %v", tt.subject, err, tt.want)
		}
	}
}

func TestSink_WithConnSharesAndKeepsTheCallersConnection(t *testing.T) {
	srv := relaytest.StartNATS(t)
	nc, js := connect(t, srv.URL())
	s, err := natssink.New(testContext(t), natssink.Config{}, natssink.WithConn(nc), quietLogger)
	if err != nil {
		t.Fatalf("new sink: %v", err)
	}
	if s.Conn() != nc {
		t.Fatal("Conn is not the connection given")
	}
	createStream(t, js, "PLAIN", "plain")
	if err := s.Publish(testContext(t), []schema.Message{{Destination: "plain", Body: []byte("x")}}); err != nil {
		t.Fatalf("publish: %v", err)
	}
	if err := s.Close(testContext(t)); err != nil {
		t.Fatalf("close: %v", err)
	}
	if nc.IsClosed() {
		t.Fatal("Close closed the caller's connection")
	}
}

func TestNew_RejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  natssink.Config
		want string
	}{
		{"A missing URL", natssink.Config{}, "url is required"},
		{"A negative publish timeout", natssink.Config{URL: "nats://x", PublishTimeout: -time.Second}, "publish_timeout must be >= 0, got -1s"},
		{"A need without a stream", natssink.Config{URL: "nats://x", Streams: []natsstreams.Need{{Purpose: "dlq", Subject: "d"}}}, `streams: "dlq" needs a subject and a stream name (or core)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := natssink.New(context.Background(), tt.cfg)
			if !errors.Is(err, natssink.ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want ErrInvalidConfig containing %q", err, tt.want)
			}
		})
	}
}

func TestSink_PublishReturnsTheContextErrorWhenNoAckComes(t *testing.T) {
	srv := relaytest.StartNATS(t)
	_, js := connect(t, srv.URL())
	// A NoAck stream stores messages but never acknowledges them.
	if _, err := js.CreateStream(testContext(t), jetstream.StreamConfig{Name: "SILENT", Subjects: []string{"silent.>"}, NoAck: true}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	s := newSink(t, srv.URL(), natssink.Config{}, quietLogger)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Publish(ctx, []schema.Message{{Destination: "silent.x", ID: "1"}}) }()
	if err := publishResult(t, done, "publish without acks"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
}

// publishResult waits for the error of a publish running in the background.
func publishResult(t *testing.T, done <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(testTimeout):
		t.Fatalf("%s did not return within %s", what, testTimeout)
		return nil
	}
}

func TestSink_PicksUpAStreamCreatedAfterTheSubjectWasCore(t *testing.T) {
	srv := relaytest.StartNATS(t)
	_, js := connect(t, srv.URL())
	s := newSink(t, srv.URL(), natssink.Config{Streams: []natsstreams.Need{coreNeed("later.x")}}, quietLogger)
	publish := func() {
		t.Helper()
		if err := s.Publish(testContext(t), []schema.Message{{Destination: "later.x", ID: "1"}}); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
	publish()
	if got := s.Mode("later.x"); got != natssink.ModeCore {
		t.Fatalf("Mode before the stream exists: got %q, want %q", got, natssink.ModeCore)
	}
	st := createStream(t, js, "LATER", "later.>")
	// The stream-created advisory makes the sink forget its decisions.
	relaytest.WaitFor(t, testTimeout, "the sink to forget its decision", func() bool { return s.Mode("later.x") == "" })
	publish()
	if got := s.Mode("later.x"); got != natssink.ModeJetStream {
		t.Fatalf("Mode after the stream exists: got %q, want %q", got, natssink.ModeJetStream)
	}
	if info, err := st.Info(testContext(t)); err != nil || info.State.Msgs != 1 {
		t.Fatalf("stream info: %v, %+v; want 1 message", err, info)
	}
}

// coreNeed is a task-route need that allows core NATS where no stream captures subject.
func coreNeed(subject string) natsstreams.Need {
	return natsstreams.Need{Purpose: "route " + subject, Subject: subject, Stream: "UNUSED", Core: true}
}

func TestSink_ADisconnectFailsAPublishWaitingForItsAcksAtOnce(t *testing.T) {
	srv := relaytest.StartNATS(t)
	_, js := connect(t, srv.URL())
	st, err := js.CreateStream(testContext(t), jetstream.StreamConfig{Name: "SILENT", Subjects: []string{"silent.>"}, NoAck: true})
	if err != nil {
		t.Fatalf("create stream: %v", err)
	}
	s := newSink(t, srv.URL(), natssink.Config{}, quietLogger)
	done := make(chan error, 1)
	go func() { done <- s.Publish(testContext(t), []schema.Message{{Destination: "silent.x", ID: "1"}}) }()
	relaytest.WaitFor(t, testTimeout, "the message to be stored", func() bool {
		info, err := st.Info(testContext(t))
		return err == nil && info.State.Msgs == 1
	})
	srv.Stop()
	if err := publishResult(t, done, "publish waiting for acks, after the disconnect,"); !errors.Is(err, nats.ErrDisconnected) {
		t.Fatalf("got %v, want nats.ErrDisconnected", err)
	}
}

func TestSink_ReturnsTheStreamsRefusalOfAMessage(t *testing.T) {
	srv := relaytest.StartNATS(t)
	_, js := connect(t, srv.URL())
	if _, err := js.CreateStream(testContext(t), jetstream.StreamConfig{Name: "FULL", Subjects: []string{"full.>"},
		MaxMsgs: 1, Discard: jetstream.DiscardNew}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	s := newSink(t, srv.URL(), natssink.Config{}, quietLogger)
	err := s.Publish(testContext(t), []schema.Message{
		{Destination: "full.x", ID: "1", Body: []byte(`{}`)},
		{Destination: "full.x", ID: "2", Body: []byte(`{}`)},
	})
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) || !strings.Contains(err.Error(), "1 of 2 messages not acknowledged") ||
		!strings.Contains(err.Error(), "message 2:") {
		t.Fatalf("got %v, want the stream's refusal of message 2 as a *jetstream.APIError", err)
	}
}

// An operator's NATS user may only publish to its subjects and the JetStream API, and only
// receive on its inbox prefix (the default _INBOX or a custom one): the PubAcks come there.
func TestSink_PublishesAsAUserAllowedOnlyItsSubjectsAndInbox(t *testing.T) {
	for _, prefix := range []string{"", "_RELAY"} {
		t.Run(cmp.Or(prefix, "_INBOX"), func(t *testing.T) {
			inbox := cmp.Or(prefix, "_INBOX")
			o := &server.Options{JetStream: true, StoreDir: t.TempDir(), Users: []*server.User{
				{Username: "admin", Password: "a"},
				{Username: "relay", Password: "r", Permissions: &server.Permissions{
					Publish:   &server.SubjectPermission{Allow: []string{"tasks.>", "$JS.API.>"}},
					Subscribe: &server.SubjectPermission{Allow: []string{inbox + ".>", "$JS.EVENT.ADVISORY.>"}},
				}},
			}}
			srv := relaytest.StartNATSServer(t, o)
			url := fmt.Sprintf("nats://127.0.0.1:%d", srv.Addr().(*net.TCPAddr).Port)
			_, js := connect(t, strings.Replace(url, "nats://", "nats://admin:a@", 1))
			st := createStream(t, js, "TASKS", "tasks.>")
			var opts []nats.Option
			if prefix != "" {
				opts = append(opts, nats.CustomInboxPrefix(prefix))
			}
			s := newSink(t, strings.Replace(url, "nats://", "nats://relay:r@", 1), natssink.Config{}, quietLogger, natssink.WithNATSOptions(opts...))
			msgs := []schema.Message{
				{Destination: "tasks.created", ID: "1", Body: []byte(`{}`)},
				{Destination: "tasks.updated", ID: "2", Body: []byte(`{}`)},
			}
			if err := s.Publish(testContext(t), msgs); err != nil {
				t.Fatalf("publish: %v", err)
			}
			info, err := st.Info(testContext(t))
			if err != nil || info.State.Msgs != 2 {
				t.Fatalf("stream holds %v messages (%v), want 2", info, err)
			}
		})
	}
}
