package tasks

import (
	"bytes"
	"testing"

	"github.com/reten/reten-relay/schema"
)

// An update whose published JSON is its change's listed JSON gets the copy in the event;
// one with other bytes (or none) keeps its own.
func TestPlan_PublishedJSONPointsIntoTheEvent(t *testing.T) {
	rawA, rawB := []byte(`{"id":"a"}`), []byte(`{"id":"b"}`)
	ev := schema.Event{Subject: "a", Data: schema.EventData{Op: schema.OpCreated, Task: rawA}}
	body, at, err := encodeEventAt(ev)
	if err != nil {
		t.Fatal(err)
	}
	inA := body[at : at+len(rawA)]
	if !bytes.Equal(inA, rawA) {
		t.Fatalf("task at %d of %s is %s", at, body, inA)
	}
	other := bytes.Clone(rawB)
	pl := &plan{
		changes: []change{{id: "a", raw: rawA, inEvent: inA}, {id: "b", raw: rawB, inEvent: []byte(`{"id":"b"}`)}},
		updates: []EntryUpdate{{ID: "a", Published: rawA}, {ID: "b", Published: other}, {ID: "c"}},
	}
	pl.publishedInEvents()
	if !sameBytes(pl.updates[0].Published, inA) {
		t.Errorf("a's published JSON is not the event's copy")
	}
	if !sameBytes(pl.updates[1].Published, other) || pl.updates[2].Published != nil {
		t.Errorf("updates with other bytes changed: %+v", pl.updates[1:])
	}
	for _, c := range pl.changes {
		if c.raw != nil || c.inEvent != nil {
			t.Errorf("change %s still holds its JSON", c.id)
		}
	}
}
