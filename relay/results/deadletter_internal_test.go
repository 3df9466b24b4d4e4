package results

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/reten/reten-relay/schema"
)

func TestDeadLetterBody_FitsTheBrokerAndKeepsWhatItCan(t *testing.T) {
	const limit = 1<<20 - 1024 // NATS's default max_payload less room for headers
	bigJSON := []byte(`{"activity_id":"a","comment":"` + strings.Repeat("x", 1_048_376-32) + `"}`)
	tests := []struct {
		name      string
		original  []byte
		truncated bool
		encoding  string
	}{
		{"a small JSON message is embedded as JSON", []byte(`{"activity_id":"a"}`), false, ""},
		{"small text is a JSON string", []byte(`not json`), false, ""},
		{"bytes that are not UTF-8 travel base64-encoded", []byte{0x00, 0xff, 0xfe, 0x80, '{'}, false, "base64"},
		{"JSON with invalid UTF-8 inside a string is base64 too", []byte("{\"a\":\"\xff\"}"), false, "base64"},
		{"a 1,048,376-byte result is trimmed to fit", bigJSON, true, ""},
		{"text that grows when escaped is trimmed to fit", bytes.Repeat([]byte(`<"&>`), 300_000), true, ""},
		{"big binary is trimmed and base64-encoded", bytes.Repeat([]byte{0xff, 0x00}, 600_000), true, "base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := deadLetterBody(schema.DeadLetter{Reason: schema.ReasonInvalidMessage, Error: "too big"}, tt.original, limit)
			if len(body) > limit {
				t.Fatalf("dead letter is %d bytes, limit %d", len(body), limit)
			}
			var dl schema.DeadLetter
			if err := json.Unmarshal(body, &dl); err != nil {
				t.Fatalf("dead letter is not JSON: %v", err)
			}
			if dl.MessageTruncated != tt.truncated || dl.MessageEncoding != tt.encoding || dl.MessageBytes != len(tt.original) {
				t.Fatalf("truncated %v encoding %q bytes %d", dl.MessageTruncated, dl.MessageEncoding, dl.MessageBytes)
			}
			got, err := dl.Original()
			if tt.truncated {
				if err == nil || len(dl.Message) < limit/2 {
					t.Fatalf("a truncated original: Original() = %v, kept %d bytes", err, len(dl.Message))
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.original) {
				t.Fatalf("Original() = %q, %v; want %q", got, err, tt.original)
			}
		})
	}
}
