package jsonscan

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzValid holds Valid to json.Valid.
func FuzzValid(f *testing.F) {
	for _, s := range []string{
		``, ` `, `{}`, `[]`, `""`, `0`, `-0`, `01`, `-`, `1.`, `.5`, `1e`, `1e+`, `1E-2`, `-1.5e3`, `123abc`,
		`true`, `tru`, `nul`, `null `, ` {"a" : [1, {"b":"c"}], "d":null} `, `{"a":1,}`, `[1,]`, `{"a"}`, `{a:1}`,
		`"\u00e9\n\t\"\\\/"`, `"\u00g0"`, `"\x"`, "\"a\x01b\"", `"unterminated`, `[1 2]`, `{} {}`, "\xff", `"\xff"`,
		validBodyForFuzz,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		if got, want := Valid(doc), json.Valid(doc); got != want {
			t.Fatalf("Valid(%q) = %v, json.Valid says %v", doc, got, want)
		}
	})
}

const validBodyForFuzz = `{"activity_id":"a-1","commerce_external_id":"COM-1","occurred_at":"2026-04-11T10:30:00Z","status":"EFFECTIVE","task_result":{"result":"SALE_COMPLETED","payload":{"n":[1,2.5,-3e2,true,false,null]}}}`

func TestValid_NestingLimitIsEncodingJSONs(t *testing.T) {
	for _, depth := range []int{EncodingJSONMaxDepth - 1, EncodingJSONMaxDepth, EncodingJSONMaxDepth + 1} {
		for _, open := range []string{"[", `{"a":`} {
			closing := "]"
			if open != "[" {
				closing = "}"
			}
			doc := []byte(strings.Repeat(open, depth) + "1" + strings.Repeat(closing, depth))
			if got, want := Valid(doc), json.Valid(doc); got != want {
				t.Errorf("depth %d of %s: Valid %v, json.Valid %v", depth, open, got, want)
			}
		}
	}
}
