package results

import (
	"encoding/base64"
	"encoding/json"
	"unicode/utf8"

	"github.com/reten/reten-relay/schema"
)

// deadLetterBody encodes dl with the original message, trimmed so the whole stays within
// limit bytes: a dead letter the broker refuses would leave its message unsettled forever.
// The original goes in as JSON when it is valid UTF-8 JSON, as a JSON string when it is
// other UTF-8 text, and base64-encoded when it is not UTF-8 (raw bytes would make the dead
// letter itself invalid JSON).
func deadLetterBody(dl schema.DeadLetter, original []byte, limit int) []byte {
	dl.MessageBytes = len(original)
	text := utf8.Valid(original)
	if !text {
		dl.MessageEncoding = "base64"
	}
	// The envelope without the original tells how much room the original has; a big
	// original is trimmed without encoding it whole first.
	dl.Message = json.RawMessage(`""`)
	envelope, _ := json.Marshal(dl)
	room := limit - len(envelope)
	switch {
	case !text:
		if base64.StdEncoding.EncodedLen(len(original)) <= room {
			dl.Message, _ = json.Marshal(base64.StdEncoding.EncodeToString(original))
			return marshal(dl)
		}
	case len(original) <= room && len(original) > 0 && json.Valid(original):
		dl.Message = json.RawMessage(original)
		return marshal(dl)
	case len(original) <= room:
		if b, _ := json.Marshal(string(original)); len(b) <= room+2 {
			dl.Message = b
			return marshal(dl)
		}
	}
	// Too big: keep the head of the original, as a string, and say so.
	dl.MessageTruncated = true
	envelope, _ = json.Marshal(dl)
	room = limit - len(envelope)
	keep := room - 16
	for range 8 {
		if keep <= 0 {
			break
		}
		dl.Message = trimmedOriginal(original, keep, text)
		if len(dl.Message) <= room {
			return marshal(dl)
		}
		keep = int(float64(keep) * float64(room) / float64(len(dl.Message)) * 0.98) // escaping made it longer
	}
	dl.Message, dl.Error, dl.Response, dl.Headers = json.RawMessage(`""`), trimText(dl.Error, 1024), "", nil
	return marshal(dl)
}

func marshal(dl schema.DeadLetter) []byte {
	b, _ := json.Marshal(dl)
	return b
}

// trimmedOriginal is a JSON string of at most n bytes of original's head: text cut at a
// rune boundary, or base64 of the bytes.
func trimmedOriginal(original []byte, n int, text bool) json.RawMessage {
	n = min(n, len(original))
	if !text {
		b, _ := json.Marshal(base64.StdEncoding.EncodeToString(original[:n*3/4]))
		return b
	}
	for n > 0 && n < len(original) && !utf8.RuneStart(original[n]) {
		n--
	}
	b, _ := json.Marshal(string(original[:n]))
	return b
}

func trimText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// headersSize is about what headers add to a message on the wire.
func headersSize(h map[string]string) int {
	n := 64
	for k, v := range h {
		n += len(k) + len(v) + 4
	}
	return n
}
