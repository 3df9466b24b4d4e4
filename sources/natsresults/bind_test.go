package natsresults_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/sinks/natsstreams"
	"github.com/reten/reten-relay/sources/natsresults"
)

func TestNew_CreatesStreamAndDurableWhenNoneExists(t *testing.T) {
	_, nc, js, ctx := setup(t)
	var logs relaytest.LogBuffer
	newSource(t, ctx, nc, natsresults.Config{Stream: "RESULTS", Subjects: []string{"reten.results.a.>", "reten.results.b.>"},
		AckWait: 7 * time.Second, MaxAckPending: 32, Logger: zerolog.New(&logs)})

	st, err := js.Stream(ctx, "RESULTS")
	if err != nil {
		t.Fatalf("stream not created: %v", err)
	}
	sc := st.CachedInfo().Config
	if sc.Storage != jetstream.FileStorage || !reflect.DeepEqual(sc.Subjects, []string{"reten.results.a.>", "reten.results.b.>"}) ||
		sc.MaxAge != natsstreams.DefaultLimits().MaxAge || sc.MaxBytes != natsstreams.DefaultLimits().MaxBytes {
		t.Fatalf("created stream config = %+v", sc)
	}
	cc := consumerInfo(t, ctx, js, "RESULTS", "reten-relay").Config
	if cc.Durable != "reten-relay" || cc.AckPolicy != jetstream.AckExplicitPolicy || cc.AckWait != 7*time.Second ||
		cc.MaxAckPending != 32 || cc.DeliverPolicy != jetstream.DeliverAllPolicy ||
		!reflect.DeepEqual(cc.FilterSubjects, []string{"reten.results.a.>", "reten.results.b.>"}) {
		t.Fatalf("created consumer config = %+v", cc)
	}
	if !strings.Contains(logs.String(), "created jetstream stream RESULTS for") || !strings.Contains(logs.String(), "created durable consumer reten-relay") {
		t.Fatalf("start-up logs do not say what was created:\n%s", logs.String())
	}
}

func TestNew_BindsToAnExistingStreamAndDurableWithoutChangingThem(t *testing.T) {
	_, nc, js, ctx := setup(t)
	existing, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "OPS_OWN", Subjects: []string{"reten.>"}, MaxAge: time.Hour, Duplicates: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateConsumer(ctx, "OPS_OWN", jetstream.ConsumerConfig{Durable: "reten-relay", AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: 9 * time.Second, MaxAckPending: 3, FilterSubject: "reten.results.>"}); err != nil {
		t.Fatal(err)
	}
	streamBefore := existing.CachedInfo().Config
	consumerBefore := consumerInfo(t, ctx, js, "OPS_OWN", "reten-relay").Config
	var logs relaytest.LogBuffer

	s := newSource(t, ctx, nc, natsresults.Config{Stream: "RETEN_RESULTS", AckWait: time.Second, MaxAckPending: 100, Logger: zerolog.New(&logs)})

	after, err := js.Stream(ctx, "OPS_OWN")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(after.CachedInfo().Config, streamBefore) {
		t.Fatalf("stream config changed:\nbefore %+v\nafter  %+v", streamBefore, after.CachedInfo().Config)
	}
	if got := consumerInfo(t, ctx, js, "OPS_OWN", "reten-relay").Config; !reflect.DeepEqual(got, consumerBefore) {
		t.Fatalf("consumer config changed:\nbefore %+v\nafter  %+v", consumerBefore, got)
	}
	if _, err := js.Stream(ctx, "RETEN_RESULTS"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("created a second stream although one captures the subjects: %v", err)
	}
	if s.Stream() != "OPS_OWN" || !strings.Contains(logs.String(), "bound to existing stream OPS_OWN") ||
		!strings.Contains(logs.String(), "bound to existing durable consumer reten-relay") {
		t.Fatalf("bound to %q; logs:\n%s", s.Stream(), logs.String())
	}
}

func TestNew_RefusesBadSetups(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, js jetstream.JetStream)
		cfg     natsresults.Config
		want    error
	}{
		{
			name: "no subjects is a config error",
			cfg:  natsresults.Config{Subjects: []string{}},
			want: natsresults.ErrInvalidConfig,
		},
		{
			name: "a negative ack wait is a config error",
			cfg:  natsresults.Config{Subjects: []string{"reten.results.>"}, AckWait: -time.Second},
			want: natsresults.ErrInvalidConfig,
		},
		{
			name: "a stream of the configured name with other subjects is not taken",
			prepare: func(t *testing.T, js jetstream.JetStream) {
				if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "RETEN_RESULTS", Subjects: []string{"ops.other"}}); err != nil {
					t.Fatal(err)
				}
			},
			cfg:  natsresults.Config{Subjects: []string{"reten.results.>"}},
			want: natsresults.ErrStreamConflict,
		},
		{
			name: "subjects spread over two streams leave nothing to bind to",
			prepare: func(t *testing.T, js jetstream.JetStream) {
				for name, subj := range map[string]string{"A": "reten.results.a", "B": "reten.results.b"} {
					if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: name, Subjects: []string{subj}}); err != nil {
						t.Fatal(err)
					}
				}
			},
			cfg:  natsresults.Config{Subjects: []string{"reten.results.a", "reten.results.b"}},
			want: natsresults.ErrStreamConflict,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, nc, js, ctx := setup(t)
			if tt.prepare != nil {
				tt.prepare(t, js)
			}
			_, err := natsresults.New(ctx, nc, tt.cfg)
			if !errors.Is(err, tt.want) {
				t.Fatalf("New() error = %v, want %v", err, tt.want)
			}
		})
	}
}
