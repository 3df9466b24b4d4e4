package routing

import (
	"encoding/json"
	"errors"
	"unicode/utf8"

	"github.com/reten/reten-relay/schema/jsonscan"
)

// fieldNames are the JSON names of taskFields, in its order.
var fieldNames = [...]string{"type", "status", "channel", "lifecycleStatus", "activityOrigin", "commerceExternalId"}

// scanFields fills tf from the top level of the JSON object raw in one pass, as
// json.Unmarshal(raw, tf) would: keys match case-insensitively, the last duplicate wins,
// nested values are validated and skipped. It runs for every event, where json.Unmarshal
// costs a validation pass, a decode pass and a copy of each field. It reports false
// (tf untouched) when it cannot decide exactly as encoding/json would: a key with an
// escape or a non-ASCII byte (Unicode case folding), or raw not a valid JSON object;
// the caller then decodes with encoding/json.
func scanFields(raw []byte, tf *taskFields) bool {
	s := jsonscan.Scanner{Data: raw, MaxDepth: jsonscan.EncodingJSONMaxDepth}
	i := s.WS(0)
	if i >= len(raw) || raw[i] != '{' {
		return false
	}
	var got [len(fieldNames)]json.RawMessage
	end, err := s.Object(i, 1, func(key []byte, at int) (int, error) {
		for _, c := range key {
			if c >= utf8.RuneSelf || c == '\\' {
				return at, errUndecided
			}
		}
		end, err := s.Value(at, 1)
		if err != nil {
			return end, err
		}
		for k, name := range fieldNames {
			if equalFoldASCII(key, name) {
				got[k] = raw[at:end]
			}
		}
		return end, nil
	})
	if err != nil || s.WS(end) != len(raw) {
		return false
	}
	tf.Type, tf.Status, tf.Channel = got[0], got[1], got[2]
	tf.LifecycleStatus, tf.ActivityOrigin, tf.CommerceExternalID = got[3], got[4], got[5]
	return true
}

// errUndecided stops scanFields at a key only encoding/json can match.
var errUndecided = errors.New("key needs encoding/json")

func equalFoldASCII(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c, d := b[i], s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if d >= 'A' && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}
