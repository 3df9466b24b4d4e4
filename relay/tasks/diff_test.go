package tasks_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/reten/reten-relay/relay/tasks"
	"github.com/reten/reten-relay/schema"
)

func TestPoller_FirstSyncAnnouncesEveryTaskOnlyWhenAsked(t *testing.T) {
	for _, tc := range []struct {
		name        string
		emitInitial bool
		want        string
	}{
		{"with EmitInitial every task is created", true, "created:a created:b"},
		{"without EmitInitial the first listing is only remembered", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *tasks.Config) { c.EmitInitial = tc.emitInitial })
			e.lister.set(task("a"), task("b"))
			rep, evs := e.cycle()
			if got := opsOf(evs); got != tc.want {
				t.Fatalf("events = %q, want %q", got, tc.want)
			}
			if !rep.Complete || rep.Tasks != 2 {
				t.Fatalf("report = %+v, want complete with 2 tasks", rep)
			}
			// A task appearing after the first sync is always announced.
			e.lister.set(task("a"), task("b"), task("c"))
			if _, evs := e.cycle(); opsOf(evs) != "created:c" {
				t.Fatalf("after sync events = %q, want created:c", opsOf(evs))
			}
		})
	}
}

func TestPoller_CreatedEventIsAStructuredCloudEvent(t *testing.T) {
	e := newEnv(t)
	e.lister.set(task("a", `"status":"PENDING"`))
	_, _ = e.p.Cycle(context.Background())
	msgs := e.sink.take()
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	var env map[string]json.RawMessage
	if err := json.Unmarshal(m.Body, &env); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"specversion": `"1.0"`, "type": `"ai.reten.task.created"`, "subject": `"a"`,
		"source": `"` + testSource + `"`, "datacontenttype": `"application/json"`,
	}
	for k, v := range want {
		if string(env[k]) != v {
			t.Errorf("%s = %s, want %s", k, env[k], v)
		}
	}
	var data map[string]json.RawMessage
	_ = json.Unmarshal(env["data"], &data)
	if string(data["task"]) != `{"id":"a","status":"PENDING"}` || string(data["previous"]) != "null" || string(data["op"]) != `"created"` {
		t.Errorf("data = %s", env["data"])
	}
	var id string
	_ = json.Unmarshal(env["id"], &id)
	if m.ID != id || m.Key != "a" || m.Destination != "tasks.created" {
		t.Errorf("message id/key/destination = %q/%q/%q, want %q/a/tasks.created", m.ID, m.Key, m.Destination, id)
	}
	for k, v := range map[string]string{"ce_id": id, "ce_type": "ai.reten.task.created", "ce_subject": "a",
		"ce_source": testSource, "ce_specversion": "1.0", "content-type": "application/cloudevents+json"} {
		if m.Headers[k] != v {
			t.Errorf("header %s = %q, want %q", k, m.Headers[k], v)
		}
	}
}

func TestPoller_UpdateCarriesPreviousAndChangedFields(t *testing.T) {
	e := newEnv(t)
	e.lister.set(task("a", `"status":"PENDING"`, `"channel":"SALESMAN"`, `"note":"x"`))
	e.cycle()
	e.lister.set(task("a", `"status":"COMPLETED"`, `"channel":"SALESMAN"`, `"extra":1`))
	rep, evs := e.cycle()
	if rep.Updated != 1 || len(evs) != 1 {
		t.Fatalf("report %+v, events %q; want one update", rep, opsOf(evs))
	}
	ev := evs[0]
	if ev.Type != "ai.reten.task.updated" || ev.Data.Op != schema.OpUpdated {
		t.Fatalf("type %q op %q", ev.Type, ev.Data.Op)
	}
	if !slices.Equal(ev.Data.Changed, []string{"extra", "note", "status"}) {
		t.Errorf("changed = %v, want [extra note status]", ev.Data.Changed)
	}
	if string(ev.Data.Previous) != `{"id":"a","status":"PENDING","channel":"SALESMAN","note":"x"}` {
		t.Errorf("previous = %s", ev.Data.Previous)
	}
	if string(ev.Data.Task) != `{"id":"a","status":"COMPLETED","channel":"SALESMAN","extra":1}` {
		t.Errorf("task = %s", ev.Data.Task)
	}
}

// A task's canonical form is only computed once its bytes change: a first sync stores
// none, and the first change of bytes compares the new form with the stored version.
func TestPoller_ReformattedTaskIsNotAChange(t *testing.T) {
	for _, restart := range []bool{false, true} {
		t.Run(map[bool]string{false: "same process", true: "after a restart"}[restart], func(t *testing.T) {
			e := newEnv(t)
			e.lister.set(schema.Task{ID: "a", Raw: json.RawMessage(`{"id":"a","n":{"x":1,"y":"é"}}`)}, task("b", `"v":1`))
			e.cycle()
			if restart {
				e.restart()
			}
			// a is the same content in another form; b really changed.
			e.lister.set(schema.Task{ID: "a", Raw: json.RawMessage(`{ "n": {"y":"\u00e9", "x":1}, "id": "a" }`)}, task("b", `"v":2`))
			rep, evs := e.cycle()
			if opsOf(evs) != "updated:b" || rep.Updated != 1 {
				t.Fatalf("events %q, report %+v: want only b's update", opsOf(evs), rep)
			}
			// The next real change of a is compared with what was last published.
			e.lister.set(schema.Task{ID: "a", Raw: json.RawMessage(`{"id":"a","n":{"x":2,"y":"é"}}`)}, task("b", `"v":2`))
			_, evs = e.cycle()
			if len(evs) != 1 || !slices.Equal(evs[0].Data.Changed, []string{"n"}) ||
				string(evs[0].Data.Previous) != `{"id":"a","n":{"x":1,"y":"é"}}` {
				t.Fatalf("events %q, want one update of a's n from the first version", opsOf(evs))
			}
		})
	}
}

func TestPoller_ReturningToOldContentIsANewChangeEachTime(t *testing.T) {
	e := newEnv(t)
	a, b := task("x", `"v":"A"`), task("x", `"v":"B"`)
	e.lister.set(a)
	_, first := e.cycle()
	ids := map[string]bool{first[0].ID: true}
	for i, next := range []schema.Task{b, a, b} {
		e.lister.set(next)
		_, evs := e.cycle()
		if len(evs) != 1 || evs[0].Data.Op != schema.OpUpdated {
			t.Fatalf("step %d: events %q, want one update", i, opsOf(evs))
		}
		if ids[evs[0].ID] {
			t.Fatalf("step %d: id %s repeats an earlier event's id", i, evs[0].ID)
		}
		ids[evs[0].ID] = true
	}
}

func TestPoller_DeleteNeedsTwoCompleteListings(t *testing.T) {
	e := newEnv(t)
	e.lister.set(task("a"), task("b"))
	e.cycle()
	e.lister.set(task("a"))
	rep, evs := e.cycle()
	if len(evs) != 0 || rep.Suspected != 1 {
		t.Fatalf("first listing without b: events %q, suspected %d; want none and 1", opsOf(evs), rep.Suspected)
	}
	rep, evs = e.cycle()
	if opsOf(evs) != "deleted:b" || rep.Deleted != 1 {
		t.Fatalf("second listing without b: events %q, want deleted:b", opsOf(evs))
	}
	if string(evs[0].Data.Task) != "null" || string(evs[0].Data.Previous) != `{"id":"b"}` {
		t.Errorf("deleted data task=%s previous=%s, want null and the last version", evs[0].Data.Task, evs[0].Data.Previous)
	}
	if _, evs = e.cycle(); len(evs) != 0 {
		t.Fatalf("after delete: events %q, want none", opsOf(evs))
	}
}

func TestPoller_SuspectThatReappearsIsNotDeleted(t *testing.T) {
	for _, tc := range []struct {
		name  string
		back  schema.Task
		wants string
	}{
		{"unchanged it is simply cleared", task("b", `"v":1`), ""},
		{"changed it is an update", task("b", `"v":2`), "updated:b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.lister.set(task("a"), task("b", `"v":1`))
			e.cycle()
			e.lister.set(task("a"))
			e.cycle()
			e.lister.set(task("a"), tc.back)
			if _, evs := e.cycle(); opsOf(evs) != tc.wants {
				t.Fatalf("events %q, want %q", opsOf(evs), tc.wants)
			}
			// Missing once more: suspected again, not deleted at once.
			e.lister.set(task("a"))
			if rep, evs := e.cycle(); len(evs) != 0 || rep.Suspected != 1 {
				t.Fatalf("missing again: events %q suspected %d, want none and 1", opsOf(evs), rep.Suspected)
			}
		})
	}
}

func TestPoller_FailedListingChangesNothing(t *testing.T) {
	for _, tc := range []struct {
		name    string
		break_  func(*fakeLister)
		wantErr error
	}{
		{"an inconsistent listing", func(l *fakeLister) { l.setInconsistent("page 2 missing") }, tasks.ErrIncompleteListing},
		{"a listing error", func(l *fakeLister) { l.fail(fmt.Errorf("get page 2: %w", schema.ErrTransient)) }, schema.ErrTransient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.lister.set(task("a"), task("b"))
			e.cycle()
			for range 3 { // repeated failures never turn into suspicion or deletes
				e.lister.set(task("a"))
				tc.break_(e.lister)
				rep, err := e.p.Cycle(context.Background())
				if !errors.Is(err, tc.wantErr) || rep.Complete {
					t.Fatalf("cycle err = %v complete %v, want %v", err, rep.Complete, tc.wantErr)
				}
				if evs := e.sink.take(); len(evs) != 0 {
					t.Fatalf("failed cycle published %d events", len(evs))
				}
			}
			e.lister.set(task("a"))
			if rep, evs := e.cycle(); len(evs) != 0 || rep.Suspected != 1 {
				t.Fatalf("first complete listing without b: events %q suspected %d, want none and 1", opsOf(evs), rep.Suspected)
			}
		})
	}
}

func TestPoller_DeleteThenRecreateGetsNewIDs(t *testing.T) {
	e := newEnv(t)
	keep := task("keep") // an emptied listing would trip the mass-delete guard
	e.lister.set(keep, task("a", `"v":1`))
	_, created := e.cycle()
	created = created[1:]
	e.lister.set(keep)
	e.cycle()
	_, deleted := e.cycle()
	e.lister.set(keep, task("a", `"v":1`))
	_, recreated := e.cycle()
	if opsOf(deleted) != "deleted:a" || opsOf(recreated) != "created:a" {
		t.Fatalf("events %q then %q, want deleted:a then created:a", opsOf(deleted), opsOf(recreated))
	}
	ids := map[string]bool{created[0].ID: true, deleted[0].ID: true, recreated[0].ID: true}
	if len(ids) != 3 {
		t.Fatalf("ids %v are not distinct", ids)
	}
}
