package dispatch

import (
	"strings"
	"testing"
)

func TestParseActivities_AcceptsAnObjectOrAnArrayOfObjectsWithIDs(t *testing.T) {
	tests := []struct {
		name, body string
		wantIDs    []string
		wantArray  bool
		wantErr    string
	}{
		{"one object with a string id", `{"id":"a1","status":"READY"}`, []string{"a1"}, false, ""},
		{"a numeric id", `{"id": 42}`, []string{"42"}, false, ""},
		{"an array", ` [{"id":"a"},{"id":"b"}] `, []string{"a", "b"}, true, ""},
		{"empty", "  ", nil, false, "empty body"},
		{"malformed", `{"id":"a"`, nil, false, "malformed JSON"},
		{"a string", `"a"`, nil, false, "want a JSON object"},
		{"null", `null`, nil, false, "want a JSON object"},
		{"no id", `{"status":"READY"}`, nil, false, "has no id"},
		{"an empty id", `{"id":""}`, nil, false, "id is empty"},
		{"an id of the wrong type", `{"id":{"x":1}}`, nil, false, "string or a number"},
		{"an empty array", `[]`, nil, true, "empty array"},
		{"an array with a bad item", `[{"id":"a"},{"x":1}]`, nil, true, "activity 1: activity has no id"},
		{"the same id twice", `[{"id":"a"},{"id":"a"}]`, nil, true, "appears twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			acts, isArray, err := parseActivities([]byte(tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || isArray != tt.wantArray || len(acts) != len(tt.wantIDs) {
				t.Fatalf("got %v array=%v err=%v", acts, isArray, err)
			}
			for i, a := range acts {
				if a.id != tt.wantIDs[i] {
					t.Errorf("id %d: got %q, want %q", i, a.id, tt.wantIDs[i])
				}
			}
		})
	}
}

func FuzzParseActivities(f *testing.F) {
	for _, s := range []string{`{"id":"a"}`, `[{"id":1},{"id":"b"}]`, `[]`, `{"id":null}`, `[[`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		acts, _, err := parseActivities(body)
		if err == nil && len(acts) == 0 {
			t.Fatal("no error and no activity")
		}
		for _, a := range acts {
			if a.id == "" {
				t.Fatal("an activity with an empty id")
			}
		}
	})
}
