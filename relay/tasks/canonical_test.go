package tasks

import (
	"slices"
	"strings"
	"testing"
)

func TestCanonical_IgnoresKeyOrderAndWhitespaceOnly(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b string
		same bool
	}{
		{"key order", `{"a":1,"b":{"x":[1,2],"y":null}}`, `{"b":{"y":null,"x":[1,2]},"a":1}`, true},
		{"whitespace", `{"a": 1 ,"b" : "x"}`, "{\n\"a\":1,\"b\":\"x\"}", true},
		{"string escapes", `{"a":"é<"}`, `{"a":"\u00e9\u003c"}`, true},
		{"array order matters", `{"a":[1,2]}`, `{"a":[2,1]}`, false},
		{"value change", `{"a":"x"}`, `{"a":"y"}`, false},
		{"null versus missing", `{"a":null}`, `{}`, false},
		{"big numbers keep precision", `{"n":12345678901234567890}`, `{"n":12345678901234567891}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ha, errA := contentHash([]byte(tc.a))
			hb, errB := contentHash([]byte(tc.b))
			if errA != nil || errB != nil {
				t.Fatalf("hash errors: %v, %v", errA, errB)
			}
			if (ha == hb) != tc.same {
				t.Fatalf("same = %v, want %v", ha == hb, tc.same)
			}
		})
	}
}

func TestContentHash_RejectsInvalidJSON(t *testing.T) {
	if _, err := contentHash([]byte(`{"a":`)); err == nil {
		t.Fatal("want an error for truncated JSON")
	}
}

func TestChangedFields_ListsTopLevelDifferencesSorted(t *testing.T) {
	prev := `{"id":"a","status":"PENDING","n":{"x":1,"y":2},"gone":true,"same":[1]}`
	cur := `{"same":[1],"n":{"y":2,"x":1},"status":"DONE","id":"a","new":0}`
	if got := changedFields([]byte(prev), []byte(cur)); !slices.Equal(got, []string{"gone", "new", "status"}) {
		t.Fatalf("changed = %v", got)
	}
	if got := changedFields([]byte(`[1]`), []byte(`{}`)); got != nil {
		t.Fatalf("non-object changed = %v, want nil", got)
	}
}

func TestEventID_DependsOnEveryPart(t *testing.T) {
	base := eventID("s", "t", 1, [32]byte{1})
	if base != eventID("s", "t", 1, [32]byte{1}) || len(base) != 32 {
		t.Fatalf("id %q is not deterministic 32 hex chars", base)
	}
	for name, other := range map[string]string{
		"source":  eventID("s2", "t", 1, [32]byte{1}),
		"task":    eventID("s", "t2", 1, [32]byte{1}),
		"change":  eventID("s", "t", 2, [32]byte{1}),
		"content": eventID("s", "t", 1, [32]byte{2}),
		"split":   eventID("st", "", 1, [32]byte{1}),
	} {
		if other == base {
			t.Errorf("changing the %s kept the id", name)
		}
	}
}

// Event ids must not change between versions: an event re-published after an upgrade, or
// a change seen again, must carry the id subscribers and JetStream's duplicate window
// already know. These were computed by the first implementation (hash.Hash writes).
func TestEventID_IsStableAcrossVersions(t *testing.T) {
	if got := eventID("https://api.reten.test", "7d1c2f9e-0b4a-4c3e-9a51-2f0e8b6d4c10", 3, [32]byte{1, 2, 3}); got != "7139e9202c3da10bb7684486556801bf" {
		t.Errorf("event id = %s, want 7139e9202c3da10bb7684486556801bf", got)
	}
	// A source longer than the stack buffer.
	if got := eventID(strings.Repeat("https://x", 40), "t", 1, [32]byte{9}); got != "de7e4b6b2e961330a239209cccbbe610" {
		t.Errorf("event id with a long source = %s, want de7e4b6b2e961330a239209cccbbe610", got)
	}
}
