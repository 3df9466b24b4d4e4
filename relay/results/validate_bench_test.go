package results

import (
	"testing"
	"time"

	"github.com/reten/reten-relay/schema"
)

func BenchmarkValidate(b *testing.B) {
	body := []byte(`{"activity_id":"3f1c2a9e-8b7d-4c6e-9a1f-2d3b4c5e6f70","commerce_external_id":"COM-1","occurred_at":"2026-04-11T10:30:00Z","status":"EFFECTIVE","task_result":{"result":"SALE_COMPLETED","comment":"Visited the store; the owner ordered the weekly assortment and confirmed the delivery window for Thursday morning. Asked for new price list and a follow-up call next month about the promotion."}}`)
	types := map[string]schema.ResultType{"SALE_COMPLETED": {Code: "SALE_COMPLETED"}}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, rej := Validate(body, types, now); rej != nil {
			b.Fatal(rej)
		}
	}
}
