package results

import "encoding/json"

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

// objectMembers splits a JSON document that is known to be valid into the members of its
// top-level object; ok is false when it is not an object. It exists because decoding every
// result into a map with encoding/json was the largest CPU cost the relay added per result.
func objectMembers(doc []byte) (m members, ok bool) {
	i := skipSpace(doc, 0)
	if i >= len(doc) || doc[i] != '{' {
		return nil, false
	}
	m = make(members, 0, 8)
	i = skipSpace(doc, i+1)
	if doc[i] == '}' {
		return m, true
	}
	for {
		end := stringEnd(doc, i)
		key := doc[i+1 : end-1]
		for _, c := range key {
			if c == '\\' {
				var k string
				_ = json.Unmarshal(doc[i:end], &k)
				key = []byte(k)
				break
			}
		}
		i = skipSpace(doc, skipSpace(doc, end)+1) // past the colon
		vend := valueEnd(doc, i)
		m = append(m, member{key: key, val: doc[i:vend]})
		i = skipSpace(doc, vend)
		if doc[i] != ',' {
			return m, true // the closing brace
		}
		i = skipSpace(doc, i+1)
	}
}

func skipSpace(doc []byte, i int) int {
	for i < len(doc) && (doc[i] == ' ' || doc[i] == '\t' || doc[i] == '\n' || doc[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the string that starts at i.
func stringEnd(doc []byte, i int) int {
	for j := i + 1; ; j++ {
		switch doc[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
}

// valueEnd returns the index just past the value that starts at i.
func valueEnd(doc []byte, i int) int {
	switch doc[i] {
	case '"':
		return stringEnd(doc, i)
	case '{', '[':
		depth := 0
		for j := i; ; j++ {
			switch doc[j] {
			case '"':
				j = stringEnd(doc, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
	}
	j := i
	for j < len(doc) && doc[j] != ',' && doc[j] != '}' && doc[j] != ']' && doc[j] != ' ' && doc[j] != '\t' && doc[j] != '\n' && doc[j] != '\r' {
		j++
	}
	return j
}
