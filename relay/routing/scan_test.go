package routing

import (
	"encoding/json"
	"testing"
)

// decodeFields is what valuesOf did before scanFields: encoding/json all the way.
func decodeFields(raw []byte) ([len(fieldNames)]string, bool) {
	var tf taskFields
	var out [len(fieldNames)]string
	if json.Unmarshal(raw, &tf) != nil {
		return out, false
	}
	for i, f := range []json.RawMessage{tf.Type, tf.Status, tf.Channel, tf.LifecycleStatus, tf.ActivityOrigin, tf.CommerceExternalID} {
		if len(f) > 0 && f[0] == '"' {
			var s string
			if json.Unmarshal(f, &s) == nil {
				out[i] = s
			}
			continue
		}
		out[i] = scalar(f)
	}
	return out, true
}

// fastFields is valuesOf's way now.
func fastFields(raw []byte) ([len(fieldNames)]string, bool) {
	var tf taskFields
	var out [len(fieldNames)]string
	if !scanFields(raw, &tf) && json.Unmarshal(raw, &tf) != nil {
		return out, false
	}
	for i, f := range []json.RawMessage{tf.Type, tf.Status, tf.Channel, tf.LifecycleStatus, tf.ActivityOrigin, tf.CommerceExternalID} {
		out[i] = scalar(f)
	}
	return out, true
}

var scanCorpus = []string{
	`{"id":"a","type":"TASK","status":"PENDING","channel":"SALESMAN","lifecycleStatus":"SCHEDULED","activityOrigin":"X","commerceExternalId":"C-1"}`,
	` { "Channel" : "A" , "CHANNEL":"B", "nested":{"channel":"no"}, "list":[1,2,{"status":"x"}] } `,
	`{"channel":12.5e-3,"status":true,"type":null,"lifecycleStatus":{"a":1},"activityOrigin":[1]}`,
	`{"channel":"esc\"aped\u00e9\n","status":"\ud83d\ude00","type":"tab	in"}`,
	`{"ch\u0061nnel":"escaped key","status":"ok"}`,
	`{"ſtatus":"long s folds to status","channel":"x"}`,
	`{"channel":"\xff\xfe invalid utf8"}`,
	`{"channel":"a",}`, `{"channel":"a"} x`, `{"channel":01}`, `{"channel":-}`, `{"channel":1.}`,
	`{"channel":1e}`, `{"channel":"\x"}`, `{"channel":"\u12"}`, `{"channel":tru}`, `["channel"]`,
	`"channel"`, `12`, `null`, `{}`, `{"channel":"a" "status":"b"}`, `{"channel" "a"}`, ``, `{`,
	`{"a":[[[[]]]],"channel":"deep"}`, `{"channel":-0.0E+12,"status":"\/\b\f\r\t"}`,
}

func TestScanFields_DecidesAsEncodingJSON(t *testing.T) {
	for _, raw := range scanCorpus {
		want, wok := decodeFields([]byte(raw))
		got, gok := fastFields([]byte(raw))
		if got != want || gok != wok {
			t.Errorf("%s:\n got %q %v\nwant %q %v", raw, got, gok, want, wok)
		}
	}
}

func FuzzScanFields(f *testing.F) {
	for _, raw := range scanCorpus {
		f.Add([]byte(raw))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		want, wok := decodeFields(raw)
		got, gok := fastFields(raw)
		if got != want || gok != wok {
			t.Fatalf("%q:\n got %q %v\nwant %q %v", raw, got, gok, want, wok)
		}
	})
}
