package schematest_test

import (
	"testing"

	"github.com/reten/reten-relay/schema/schematest"
)

func TestSchemas_AcceptDocumentedExamplesAndRejectBrokenOnes(t *testing.T) {
	cases := []struct {
		name   string
		schema string
		doc    string
		valid  bool
	}{
		{"created event", schematest.TaskEvent, `{"specversion":"1.0","id":"0123456789abcdef0123456789abcdef","source":"https://api.reten.ai","type":"ai.reten.task.created","subject":"t1","time":"2026-04-15T09:00:00Z","datacontenttype":"application/json","data":{"op":"created","task":{"id":"t1"},"previous":null}}`, true},
		{"updated event needs changed", schematest.TaskEvent, `{"specversion":"1.0","id":"0123456789abcdef0123456789abcdef","source":"s","type":"ai.reten.task.updated","subject":"t1","time":"2026-04-15T09:00:00Z","datacontenttype":"application/json","data":{"op":"updated","task":{"id":"t1"},"previous":{"id":"t1"}}}`, false},
		{"deleted event with a task", schematest.TaskEvent, `{"specversion":"1.0","id":"0123456789abcdef0123456789abcdef","source":"s","type":"ai.reten.task.deleted","subject":"t1","time":"2026-04-15T09:00:00Z","datacontenttype":"application/json","data":{"op":"deleted","task":{"id":"t1"},"previous":{"id":"t1"}}}`, false},
		{"documented result example", schematest.ResultMessage, `{"activity_id":"a1b2c3d4-e5f6-7890-abcd-ef1234567890","commerce_external_id":"COM-001","occurred_at":"2026-04-11T10:30:00.000Z","status":"EFFECTIVE","task_result":{"result":"SALE_COMPLETED","comment":"...","contact_type":"OUTBOUND"}}`, true},
		{"result without any activity id", schematest.ResultMessage, `{"commerce_external_id":"COM-001","occurred_at":"2026-04-11T10:30:00.000Z","status":"EFFECTIVE","task_result":{"result":"SALE_COMPLETED"}}`, false},
		{"dead letter", schematest.DeadLetter, `{"reason":"rejected","error":"reten: 404","http_status":404,"attempts":1,"source":{"subject":"reten.results.x","sequence":3},"message":{"a":1}}`, true},
		{"outcome", schematest.Outcome, `{"type":"ai.reten.result.accepted","task_id":"t1","http_status":201,"attempts":1,"time":"2026-04-11T10:30:00Z"}`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := schematest.New(t, c.schema).Validate([]byte(c.doc))
			if (err == nil) != c.valid {
				t.Fatalf("valid=%v, got error %v", c.valid, err)
			}
		})
	}
}
