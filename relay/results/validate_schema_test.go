package results_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/reten/reten-relay/relay/results"
	"github.com/reten/reten-relay/schema/schematest"
)

// schemaCorpus is every message the differential test feeds both validators: a valid
// message, and that message with each field removed, emptied, set to a value of each JSON
// type, and to each tricky string (dates in odd spellings, enums in the wrong case).
func schemaCorpus() [][]byte {
	base := map[string]any{
		"activity_id": "act-1", "provider_activity_id": "prov-1", "commerce_external_id": "COM-1",
		"occurred_at": "2026-11-27T10:00:00Z", "status": "EFFECTIVE", "external_status": "DONE", "hard_override": false,
		"raw_payload": map[string]any{"a": 1},
		"task_result": map[string]any{"result": "SALE_COMPLETED", "comment": "ok", "contact_type": "OUTBOUND",
			"operator_external_id": "op", "future_scheduled_at": "2026-12-01T10:00:00Z", "payload": map[string]any{}},
	}
	values := []any{nil, "", " ", "x", 0, 1.5, true, []any{}, map[string]any{},
		"2026-11-27t10:00:00z", "2026-11-27T10:00:00+01:00", "2026-11-27T10:00:00.123456789Z", "2026-11-27 10:00:00Z",
		"2026-11-27", "2026-13-01T00:00:00Z", "effective", "INBOUND", "EFFECTIVE", "NOT_EFFECTIVE", "PENDING"}
	var out [][]byte
	add := func(m map[string]any) {
		b, _ := json.Marshal(m)
		out = append(out, b)
	}
	clone := func() map[string]any {
		b, _ := json.Marshal(base)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return m
	}
	add(clone())
	for k := range base {
		m := clone()
		delete(m, k)
		add(m)
		for _, v := range values {
			m := clone()
			m[k] = v
			add(m)
		}
	}
	for k := range base["task_result"].(map[string]any) {
		m := clone()
		delete(m["task_result"].(map[string]any), k)
		add(m)
		for _, v := range values {
			m := clone()
			m["task_result"].(map[string]any)[k] = v
			add(m)
		}
	}
	for _, pair := range [][2]string{{"activity_id", "provider_activity_id"}} {
		m := clone()
		delete(m, pair[0])
		delete(m, pair[1])
		add(m)
		for _, v := range values {
			m := clone()
			m[pair[0]], m[pair[1]] = v, v
			add(m)
		}
	}
	// Random combinations of two changes.
	r := rand.New(rand.NewPCG(1, 2))
	keys := []string{"activity_id", "provider_activity_id", "commerce_external_id", "occurred_at", "status", "task_result"}
	for range 300 {
		m := clone()
		for range 2 {
			k := keys[r.IntN(len(keys))]
			if r.IntN(3) == 0 {
				delete(m, k)
			} else {
				m[k] = values[r.IntN(len(values))]
			}
		}
		add(m)
	}
	return out
}

// TestValidate_AgreesWithTheJSONSchema feeds the same corpus to the relay's validator and to
// result-message.schema.json: they must accept and refuse the same messages. The relay's
// validator is hand-written because it runs for every result (3 µs, against tens for a
// generic schema validator); this test keeps the schema its source of truth.
func TestValidate_AgreesWithTheJSONSchema(t *testing.T) {
	v := schematest.New(t, "result-message.schema.json")
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	disagreements := 0
	corpus := schemaCorpus()
	for _, body := range corpus {
		schemaErr := v.Validate(body)
		_, rej := results.Validate(body, nil, now)
		if (schemaErr == nil) != (rej == nil) {
			disagreements++
			if disagreements <= 20 {
				t.Errorf("%s\n  schema: %v\n  relay:  %v", body, errText(schemaErr), rej)
			}
		}
	}
	if disagreements > 0 {
		t.Errorf("%d of %d messages judged differently", disagreements, len(corpus))
	}
}

func errText(err error) string {
	if err == nil {
		return "valid"
	}
	return fmt.Sprint(err)
}

// TestValidate_ARejectedMessageStillNamesItsTask: the outcome and the logs of a message
// refused before it was sent carry its activity id.
func TestValidate_ARejectedMessageStillNamesItsTask(t *testing.T) {
	msg, rej := results.Validate([]byte(`{"activity_id":"act-9","status":"LOST"}`), nil, time.Now())
	if rej == nil || msg == nil || msg.ActivityID != "act-9" {
		t.Fatalf("got %+v, %+v", msg, rej)
	}
}
