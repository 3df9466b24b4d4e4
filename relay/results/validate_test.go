package results_test

import (
	"strings"
	"testing"
	"time"

	"github.com/reten/reten-relay/relay/results"
	"github.com/reten/reten-relay/schema"
)

var tenantTypes = map[string]schema.ResultType{
	"SALE_COMPLETED": {Code: "SALE_COMPLETED"},
	"NO_CONTACT":     {Code: "NO_CONTACT"},
	"RESCHEDULE":     {Code: "RESCHEDULE", RequiresFutureScheduledAt: true},
}

var validateNow = time.Date(2026, 4, 11, 12, 0, 0, 0, time.UTC)

const validBody = `{"activity_id":"a1","commerce_external_id":"COM-001","occurred_at":"2026-04-11T10:30:00.000Z","status":"EFFECTIVE","task_result":{"result":"SALE_COMPLETED","contact_type":"OUTBOUND"}}`

func TestValidate_AcceptsDocumentedMessages(t *testing.T) {
	for name, body := range map[string]string{
		"the documented example":             validBody,
		"provider id instead of activity id": `{"provider_activity_id":"p1","commerce_external_id":"C","occurred_at":"2026-04-11T10:30:00Z","status":"PENDING","task_result":{"result":"NO_CONTACT"}}`,
		"reschedule with a future date":      `{"activity_id":"a1","commerce_external_id":"C","occurred_at":"2026-04-11T10:30:00Z","status":"NOT_EFFECTIVE","task_result":{"result":"RESCHEDULE","future_scheduled_at":"2026-05-01T09:00:00Z"}}`,
		"unknown extra fields are kept":      `{"activity_id":"a1","commerce_external_id":"C","occurred_at":"2026-04-11T10:30:00Z","status":"EFFECTIVE","hard_override":true,"raw_payload":{"x":1},"new_field":[1],"task_result":{"result":"SALE_COMPLETED","payload":{"y":2}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, rej := results.Validate([]byte(body), tenantTypes, validateNow); rej != nil {
				t.Fatalf("rejected: %+v", rej)
			}
		})
	}
}

func TestValidate_RejectsBrokenMessagesWithTheReason(t *testing.T) {
	patch := func(old, new string) string { return strings.Replace(validBody, old, new, 1) }
	cases := []struct {
		name   string
		body   string
		reason string
		err    string
	}{
		{"broken JSON", `{"activity_id":`, schema.ReasonInvalidMessage, "not valid JSON"},
		{"empty body", ``, schema.ReasonInvalidMessage, "message is empty"},
		{"whitespace only", "  \n", schema.ReasonInvalidMessage, "message is empty"},
		{"a JSON array", `[1,2]`, schema.ReasonInvalidMessage, "must be a JSON object, got an array"},
		{"JSON null", `null`, schema.ReasonInvalidMessage, "got null"},
		{"a JSON string", `"hello"`, schema.ReasonInvalidMessage, "got a string"},
		{"binary data", "\x00\xff\xfe\x01", schema.ReasonInvalidMessage, "not UTF-8"},
		{"a huge body", `{"activity_id":"` + strings.Repeat("x", results.MaxMessageBytes) + `"}`, schema.ReasonInvalidMessage, "more than the limit"},
		{"no activity id of either kind", patch(`"activity_id":"a1",`, ``), schema.ReasonInvalidMessage, "activity_id or provider_activity_id is required"},
		{"missing commerce_external_id", patch(`"commerce_external_id":"COM-001",`, ``), schema.ReasonInvalidMessage, "commerce_external_id is required"},
		{"empty commerce_external_id", patch(`"COM-001"`, `""`), schema.ReasonInvalidMessage, "commerce_external_id must not be empty"},
		{"missing occurred_at", patch(`"occurred_at":"2026-04-11T10:30:00.000Z",`, ``), schema.ReasonInvalidMessage, "occurred_at is required"},
		{"missing status", patch(`"status":"EFFECTIVE",`, ``), schema.ReasonInvalidMessage, "status is required"},
		{"missing task_result", patch(`,"task_result":{"result":"SALE_COMPLETED","contact_type":"OUTBOUND"}`, ``), schema.ReasonInvalidMessage, "task_result is required"},
		{"missing task_result.result", patch(`"result":"SALE_COMPLETED",`, ``), schema.ReasonInvalidMessage, "task_result.result is required"},
		{"status outside the enum", patch(`"EFFECTIVE"`, `"DONE"`), schema.ReasonInvalidMessage, `status must be one of EFFECTIVE, NOT_EFFECTIVE, PENDING, got "DONE"`},
		{"status of the wrong type", patch(`"EFFECTIVE"`, `1`), schema.ReasonInvalidMessage, "status must be a string, got a number"},
		{"activity_id of the wrong type", patch(`"a1"`, `123`), schema.ReasonInvalidMessage, "activity_id must be a string, got a number"},
		{"task_result of the wrong type", patch(`{"result":"SALE_COMPLETED","contact_type":"OUTBOUND"}`, `"SALE"`), schema.ReasonInvalidMessage, "task_result must be an object, got a string"},
		{"hard_override of the wrong type", patch(`"status"`, `"hard_override":"yes","status"`), schema.ReasonInvalidMessage, "hard_override must be a boolean"},
		{"contact_type outside the enum", patch(`"OUTBOUND"`, `"SIDEWAYS"`), schema.ReasonInvalidMessage, "contact_type must be INBOUND or OUTBOUND"},
		{"unparseable occurred_at", patch(`"2026-04-11T10:30:00.000Z"`, `"yesterday"`), schema.ReasonInvalidMessage, `occurred_at must be an RFC 3339 date, got "yesterday"`},
		{"unknown result code", patch(`"SALE_COMPLETED"`, `"TELEPORTED"`), schema.ReasonUnknownResultType, `"TELEPORTED" is not a result type of this tenant`},
		{"reschedule without a future date", patch(`"SALE_COMPLETED"`, `"RESCHEDULE"`), schema.ReasonInvalidMessage, "future_scheduled_at is required for result type RESCHEDULE"},
		{"reschedule with a past date", patch(`"SALE_COMPLETED"`, `"RESCHEDULE","future_scheduled_at":"2026-01-01T00:00:00Z"`), schema.ReasonInvalidMessage, "must be in the future"},
		{"unparseable future date", patch(`"SALE_COMPLETED"`, `"RESCHEDULE","future_scheduled_at":"soon"`), schema.ReasonInvalidMessage, `future_scheduled_at must be an RFC 3339 date, got "soon"`},
		{"raw_payload not an object", patch(`"status"`, `"raw_payload":[1],"status"`), schema.ReasonInvalidMessage, "raw_payload must be an object, got an array"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, rej := results.Validate([]byte(c.body), tenantTypes, validateNow)
			if rej == nil {
				t.Fatal("accepted")
			}
			if rej.Reason != c.reason || !strings.Contains(rej.Err, c.err) {
				t.Fatalf("got %s: %s\nwant %s: …%s…", rej.Reason, rej.Err, c.reason, c.err)
			}
		})
	}
}

func FuzzValidate(f *testing.F) {
	for _, s := range []string{validBody, `{}`, `[]`, `null`, `{"task_result":null}`, `{"task_result":{"result":7}}`, "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		msg, rej := results.Validate(body, tenantTypes, validateNow)
		if msg == nil && rej == nil {
			t.Fatal("neither a message nor a rejection")
		}
		if rej != nil && (rej.Err == "" || (rej.Reason != schema.ReasonInvalidMessage && rej.Reason != schema.ReasonUnknownResultType)) {
			t.Fatalf("bad rejection %+v", rej)
		}
	})
}
