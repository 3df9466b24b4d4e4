package results

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/reten/reten-relay/schema/jsonscan"
)

// member is one member of a JSON object; both slices alias the document.
type member struct {
	key []byte // unquoted
	val json.RawMessage
}

// members are an object's members in document order.
type members []member

// get returns the value of key; the last of duplicate keys wins, as with encoding/json.
func (m members) get(key string) (json.RawMessage, bool) {
	for i := len(m) - 1; i >= 0; i-- {
		if string(m[i].key) == key {
			return m[i].val, true
		}
	}
	return nil, false
}

// errNotJSON: objectMembers was given what json.Valid rejects.
var errNotJSON = errors.New("not valid JSON")

// objectMembers checks doc as json.Valid does and splits its top-level object into its
// members, in one pass; it returns nil members (and no error) for valid JSON that is not
// an object. It exists because decoding every result into a map with encoding/json was
// the largest CPU cost the relay added per result.
func objectMembers(doc []byte) (members, error) {
	s := jsonscan.Scanner{Data: doc, MaxDepth: jsonscan.EncodingJSONMaxDepth}
	i := s.WS(0)
	if i >= len(doc) || doc[i] != '{' {
		if !jsonscan.Valid(doc) {
			return nil, errNotJSON
		}
		return nil, nil
	}
	m := make(members, 0, 8)
	end, err := s.Object(i, 1, func(key []byte, at int) (int, error) {
		end, err := s.Value(at, 1)
		if err != nil {
			return end, err
		}
		if bytes.IndexByte(key, '\\') >= 0 {
			var k string
			if err := json.Unmarshal(append(append([]byte{'"'}, key...), '"'), &k); err != nil {
				return end, err
			}
			key = []byte(k)
		}
		m = append(m, member{key: key, val: doc[at:end]})
		return end, nil
	})
	if err != nil || s.WS(end) != len(doc) {
		return nil, errNotJSON
	}
	return m, nil
}
