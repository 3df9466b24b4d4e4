package routing_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/reten/reten-relay/relay"
	"github.com/reten/reten-relay/relay/routing"
	"github.com/reten/reten-relay/schema"
)

var _ relay.Router = (*routing.Router)(nil)

func mustNew(t testing.TB, routes ...routing.Route) *routing.Router {
	t.Helper()
	r, err := routing.New(routes)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestNew_RejectsBadRoutes(t *testing.T) {
	ok := routing.Route{Name: "a", Sink: "nats", Template: "x.{op}"}
	tests := []struct {
		name   string
		routes []routing.Route
		want   string
	}{
		{"a route without name", []routing.Route{{Sink: "nats", Template: "x"}}, `route 0 (""): invalid route: name is empty`},
		{"a route without sink", []routing.Route{{Name: "a", Template: "x"}}, `route 0 ("a"): invalid route: sink is empty`},
		{"a bad template", []routing.Route{{Name: "a", Sink: "nats", Template: "x.{nope}"}}, `route 0 ("a"): invalid route: destination: invalid template: unknown field "nope"`},
		{"a bad key", []routing.Route{{Name: "a", Sink: "kafka", Template: "x", KeyTemplate: "{"}}, `route 0 ("a"): invalid route: key: invalid template: unclosed '{' at offset 0`},
		{"an unknown when field", []routing.Route{{Name: "a", Sink: "nats", Template: "x", When: map[string][]string{"colour": {"red"}}}}, `route 0 ("a"): invalid route: when: unknown field "colour"`},
		{"a when field without values", []routing.Route{{Name: "a", Sink: "nats", Template: "x", When: map[string][]string{"op": {}}}}, `route 0 ("a"): invalid route: when.op: no values`},
		{"duplicate names", []routing.Route{ok, ok}, `route 1: invalid route: duplicate name "a"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := routing.New(tt.routes)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("New error = %v, want prefix %q", err, tt.want)
			}
			if !errors.Is(err, routing.ErrInvalidRoute) {
				t.Fatalf("error %v does not wrap ErrInvalidRoute", err)
			}
		})
	}
}

func TestRouter_RouteAppliesWhenFilters(t *testing.T) {
	r := mustNew(t,
		routing.Route{Name: "all", Sink: "nats", Template: "reten.tasks.{op}.{channel}"},
		routing.Route{Name: "pending-whatsapp", Sink: "kafka", Template: "tasks-{channel}",
			When: map[string][]string{"status": {"PENDING", "IN_PROGRESS"}, "channel": {"WHATSAPP"}}},
		routing.Route{Name: "deletes", Sink: "nats", Template: "reten.deleted.{id}",
			When: map[string][]string{"op": {"deleted"}}},
		routing.Route{Name: "no-origin", Sink: "nats", Template: "reten.orphans",
			When: map[string][]string{"activity_origin": {""}}},
	)
	const whatsappDone = `{"status":"COMPLETED","channel":"WHATSAPP","activityOrigin":"ACTIVITY"}`
	const smsPending = `{"status":"PENDING","channel":"SMS","activityOrigin":"ACTIVITY"}`
	tests := []struct {
		name string
		ev   schema.Event
		want []relay.Target
	}{
		{"a created task matching several routes goes to each, in route order",
			event(t, schema.OpCreated, "t-1", sampleTask, ""),
			[]relay.Target{
				{Route: "all", Sink: "nats", Destination: "reten.tasks.created.WHATSAPP"},
				{Route: "pending-whatsapp", Sink: "kafka", Destination: "tasks-WHATSAPP"},
			}},
		{"a value outside one filter's list does not match (AND across fields)",
			event(t, schema.OpUpdated, "t-1", whatsappDone, sampleTask),
			[]relay.Target{{Route: "all", Sink: "nats", Destination: "reten.tasks.updated.WHATSAPP"}}},
		{"a second value of a filter matches (OR within a field)",
			event(t, schema.OpUpdated, "t-1", `{"status":"IN_PROGRESS","channel":"WHATSAPP","activityOrigin":"X"}`, sampleTask),
			[]relay.Target{
				{Route: "all", Sink: "nats", Destination: "reten.tasks.updated.WHATSAPP"},
				{Route: "pending-whatsapp", Sink: "kafka", Destination: "tasks-WHATSAPP"},
			}},
		{"a deleted task is routed by its previous version",
			event(t, schema.OpDeleted, "t-1", "", smsPending),
			[]relay.Target{
				{Route: "all", Sink: "nats", Destination: "reten.tasks.deleted.SMS"},
				{Route: "deletes", Sink: "nats", Destination: "reten.deleted.t-1"},
			}},
		{"a filter on the empty value matches a missing field",
			event(t, schema.OpCreated, "t-2", `{"channel":"SMS"}`, ""),
			[]relay.Target{
				{Route: "all", Sink: "nats", Destination: "reten.tasks.created.SMS"},
				{Route: "no-origin", Sink: "nats", Destination: "reten.orphans"},
			}},
		{"a task that is not an object has only op and id",
			event(t, schema.OpCreated, "t-3", `[1,2]`, ""),
			[]relay.Target{
				{Route: "all", Sink: "nats", Destination: "reten.tasks.created._"},
				{Route: "no-origin", Sink: "nats", Destination: "reten.orphans"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.Route(tt.ev); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Route =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

func TestRouter_RouteReturnsNilWhenNothingMatches(t *testing.T) {
	r := mustNew(t, routing.Route{Name: "email", Sink: "nats", Template: "x",
		When: map[string][]string{"channel": {"EMAIL"}}})
	if got := r.Route(event(t, schema.OpCreated, "t-1", sampleTask, "")); got != nil {
		t.Fatalf("Route = %+v, want nil", got)
	}
	empty := mustNew(t)
	if got := empty.Route(event(t, schema.OpCreated, "t-1", sampleTask, "")); got != nil {
		t.Fatalf("Route without routes = %+v, want nil", got)
	}
}

func TestRouter_RouteRendersKeys(t *testing.T) {
	r := mustNew(t,
		routing.Route{Name: "default-key", Sink: "kafka", Template: "tasks"},
		routing.Route{Name: "by-commerce", Sink: "kafka", Template: "tasks", KeyTemplate: "{commerce_external_id}"},
	)
	got := r.Route(event(t, schema.OpCreated, "t-1", sampleTask, ""))
	if len(got) != 2 || got[0].Key != "" || got[1].Key != "COM-001" || got[1].Route != "by-commerce" {
		t.Fatalf("Route = %+v", got)
	}
}

func TestRouter_ExplainSaysWhyARouteDoesNotMatch(t *testing.T) {
	r := mustNew(t,
		routing.Route{Name: "all", Sink: "nats", Template: "reten.tasks.{op}.{channel}"},
		routing.Route{Name: "pending-email", Sink: "kafka", Template: "tasks",
			When: map[string][]string{"status": {"PENDING"}, "channel": {"EMAIL", "SMS"}, "type": {"CALL"}}},
	)
	got := r.Explain(event(t, schema.OpCreated, "t-1", `{"status":"PENDING","channel":"WHATSAPP"}`, ""))
	want := []routing.Explanation{
		{Route: "all", Sink: "nats", Template: "reten.tasks.{op}.{channel}", Matched: true,
			Destination: "reten.tasks.created.WHATSAPP", Key: "t-1"},
		{Route: "pending-email", Sink: "kafka", Template: "tasks", Destination: "tasks", Key: "t-1",
			Reasons: []string{`type is missing, not one of "CALL"`, `channel is "WHATSAPP", not one of "EMAIL", "SMS"`}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Explain =\n %+v\nwant\n %+v", got, want)
	}
	if s := got[0].String(); s != `all: matched: nats reten.tasks.created.WHATSAPP (key "t-1")` {
		t.Errorf("String = %s", s)
	}
	if s := got[1].String(); s != `pending-email: no match: type is missing, not one of "CALL"; channel is "WHATSAPP", not one of "EMAIL", "SMS"` {
		t.Errorf("String = %s", s)
	}
}

func BenchmarkRoute(b *testing.B) {
	r := mustNew(b,
		routing.Route{Name: "all", Sink: "nats", Template: "reten.tasks.{op}.{channel}"},
		routing.Route{Name: "pending", Sink: "kafka", Template: "tasks-{status}",
			When: map[string][]string{"status": {"PENDING", "IN_PROGRESS"}}},
	)
	ev := event(b, schema.OpUpdated, "t-1", sampleTask, sampleTask)
	b.ReportAllocs()
	for b.Loop() {
		if len(r.Route(ev)) != 2 {
			b.Fatal("want two targets")
		}
	}
}

func BenchmarkRoute_OpOnly(b *testing.B) {
	r := mustNew(b, routing.Route{Name: "all", Sink: "nats", Template: "reten.tasks.{op}.{id}"})
	ev := event(b, schema.OpUpdated, "t-1", sampleTask, sampleTask)
	b.ReportAllocs()
	for b.Loop() {
		if len(r.Route(ev)) != 1 {
			b.Fatal("want one target")
		}
	}
}
