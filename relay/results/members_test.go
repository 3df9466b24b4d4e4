package results

import (
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"
)

// FuzzObjectMembers checks the splitter against encoding/json.
func FuzzObjectMembers(f *testing.F) {
	for _, s := range []string{
		`{}`, ` { "a" : 1 , "b":[1,{"c":"}"}], "d":{"e":"\"]"} } `, `{"a":1,"a":2}`, `{"a\u005fb":"x\\"}`,
		`null`, `[1]`, `"s"`, `{"a":true,"b":false,"c":null,"d":-1.5e3}`, `{"x":"\u00e9\n"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		if !utf8.Valid(doc) { // Validate rejects it before splitting
			return
		}
		got, err := objectMembers(doc)
		if (err == nil) != json.Valid(doc) {
			t.Fatalf("objectMembers(%q) error = %v; json.Valid says %v", doc, err, json.Valid(doc))
		}
		if err != nil {
			return
		}
		var want map[string]json.RawMessage
		wantErr := json.Unmarshal(doc, &want)
		ok := got != nil
		if ok != (wantErr == nil && want != nil) {
			t.Fatalf("objectMembers(%q) ok=%v; encoding/json: %v, %v", doc, ok, want, wantErr)
		}
		if !ok {
			return
		}
		keys := map[string]bool{}
		for _, m := range got {
			keys[string(m.key)] = true
		}
		if len(keys) != len(want) {
			t.Fatalf("objectMembers(%q) = %v, want %v", doc, got, want)
		}
		for k, v := range want {
			g, _ := got.get(k)
			var a, b any
			_ = json.Unmarshal(v, &a)
			_ = json.Unmarshal(g, &b)
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("objectMembers(%q)[%q] = %s, want %s", doc, k, g, v)
			}
		}
	})
}
