package natsstreams_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/reten/reten-relay/sinks/natsstreams"
)

func route(name, subject string) natsstreams.Need {
	return natsstreams.Need{Purpose: "route " + name, Subject: subject, Stream: "RETEN_TASKS"}
}

var dlq = natsstreams.Need{Purpose: "results.dead_letter", Subject: "reten.dlq.results", Stream: "RETEN_DLQ", Kind: natsstreams.DeadLetters}

func TestPlan_DecidesEveryNeedAgainstTheExistingStreams(t *testing.T) {
	tests := []struct {
		name    string
		streams []natsstreams.Stream
		needs   []natsstreams.Need
		want    []string // Decision.String() per need
		creates []natsstreams.Create
	}{
		{
			name:  "Nothing exists: the task routes share one new stream, the dead letters get theirs",
			needs: []natsstreams.Need{route("all-tasks", "reten.tasks.*.*"), route("pending-by-id", "reten.pending.*"), dlq},
			want: []string{
				"route all-tasks: no stream captures reten.tasks.*.*: stream RETEN_TASKS will be created",
				"route pending-by-id: no stream captures reten.pending.*: stream RETEN_TASKS will be created",
				"results.dead_letter: no stream captures reten.dlq.results: stream RETEN_DLQ will be created",
			},
			creates: []natsstreams.Create{
				{Name: "RETEN_TASKS", Subjects: []string{"reten.tasks.*.*", "reten.pending.*"}},
				{Name: "RETEN_DLQ", Subjects: []string{"reten.dlq.results"}, Kind: natsstreams.DeadLetters},
			},
		},
		{
			name:    "An operator's streams on reten.tasks.> and the dead-letter subject are used",
			streams: []natsstreams.Stream{{Name: "OPS", Subjects: []string{"reten.tasks.>"}}, {Name: "OPS_DLQ", Subjects: []string{"reten.dlq.*"}}},
			needs:   []natsstreams.Need{route("all-tasks", "reten.tasks.*.*"), dlq},
			want: []string{
				"route all-tasks: reten.tasks.*.* is captured by stream OPS",
				"results.dead_letter: reten.dlq.results is captured by stream OPS_DLQ",
			},
		},
		{
			name:  "A narrower subject rides in the stream of a wider one",
			needs: []natsstreams.Need{route("by-op", "reten.tasks.*"), route("all", "reten.tasks.*"), {Purpose: "results.outcomes", Subject: "reten.tasks.outcomes", Stream: "RETEN_OUTCOMES"}},
			want: []string{
				"route by-op: no stream captures reten.tasks.*: stream RETEN_TASKS will be created",
				"route all: no stream captures reten.tasks.*: stream RETEN_TASKS will be created",
				"results.outcomes: no stream captures reten.tasks.outcomes: stream RETEN_TASKS will be created",
			},
			creates: []natsstreams.Create{{Name: "RETEN_TASKS", Subjects: []string{"reten.tasks.*"}}},
		},
		{
			name:    "A reloaded route adds its subject to the relay's own stream, never to another",
			streams: []natsstreams.Stream{{Name: "RETEN_TASKS", Subjects: []string{"reten.tasks.*.*"}, Ours: true}},
			needs:   []natsstreams.Need{route("all", "reten.tasks.*.*"), route("moved", "moved.*")},
			want: []string{
				"route all: reten.tasks.*.* is captured by stream RETEN_TASKS",
				"route moved: no stream captures moved.*: it will be added to the relay's stream RETEN_TASKS",
			},
			creates: []natsstreams.Create{{Name: "RETEN_TASKS", Subjects: []string{"moved.*"}, Extend: true}},
		},
		{
			name:    "A core route uses the stream that captures part of it and core NATS for the rest",
			streams: []natsstreams.Stream{{Name: "CREATED", Subjects: []string{"reten.tasks.created.*"}}},
			needs:   []natsstreams.Need{{Purpose: "route all", Subject: "reten.tasks.*.*", Stream: "RETEN_TASKS", Core: true}},
			want:    []string{"route all: reten.tasks.*.* is captured in part by CREATED; the rest goes out as core NATS (at-most-once)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := natsstreams.Plan(tt.streams, tt.needs)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range plan {
				got = append(got, d.String())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("decisions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if c := natsstreams.Creates(plan); !reflect.DeepEqual(c, tt.creates) {
				t.Fatalf("creates %+v, want %+v", c, tt.creates)
			}
		})
	}
}

func TestPlan_RefusesWhatItCannotMeetWithoutTouchingAnotherStream(t *testing.T) {
	tests := []struct {
		name    string
		streams []natsstreams.Stream
		needs   []natsstreams.Need
		want    string
	}{
		{
			name:    "A same-name stream with other subjects",
			streams: []natsstreams.Stream{{Name: "RETEN_DLQ", Subjects: []string{"other.>"}}},
			needs:   []natsstreams.Need{dlq},
			want:    "results.dead_letter: stream RETEN_DLQ exists with subjects other.> and does not capture reten.dlq.results",
		},
		{
			name:    "A stream capturing only part of a route",
			streams: []natsstreams.Stream{{Name: "CREATED", Subjects: []string{"reten.tasks.created.*"}}},
			needs:   []natsstreams.Need{route("all", "reten.tasks.*.*")},
			want:    "route all: reten.tasks.*.* is captured only in part by stream CREATED",
		},
		{
			name:  "Two subjects to create that overlap without one holding the other",
			needs: []natsstreams.Need{route("a", "reten.*.x"), route("b", "reten.y.*")},
			want:  "route a (reten.*.x) and route b (reten.y.*) overlap",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := natsstreams.Plan(tt.streams, tt.needs)
			if !errors.Is(err, natsstreams.ErrConflict) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Plan() error = %v, want ErrConflict with %q", err, tt.want)
			}
			if !natsstreams.Permanent(err) {
				t.Fatal("a conflict is not permanent")
			}
		})
	}
}
