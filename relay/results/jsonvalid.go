package results

// maxJSONDepth is encoding/json's nesting limit: json.Valid rejects deeper documents.
const maxJSONDepth = 10000

// validJSON reports what json.Valid reports, in one pass without a state machine:
// json.Valid calls a function per byte, and was a third of what validating a result cost.
// FuzzValidJSON holds it to json.Valid.
func validJSON(doc []byte) bool {
	v := jsonValidator{doc: doc}
	i, ok := v.value(v.space(0), 1)
	return ok && v.space(i) == len(doc)
}

type jsonValidator struct{ doc []byte }

func (v *jsonValidator) space(i int) int {
	for i < len(v.doc) && (v.doc[i] == ' ' || v.doc[i] == '\t' || v.doc[i] == '\n' || v.doc[i] == '\r') {
		i++
	}
	return i
}

// value checks the value that starts at i (no space before it) and returns the index just
// past it.
func (v *jsonValidator) value(i, depth int) (int, bool) {
	if i >= len(v.doc) {
		return i, false
	}
	switch c := v.doc[i]; {
	case c == '"':
		return v.str(i)
	case c == '{' || c == '[':
		return v.container(i, depth)
	case c == '-' || (c >= '0' && c <= '9'):
		return v.number(i)
	case c == 't':
		return v.literal(i, "true")
	case c == 'f':
		return v.literal(i, "false")
	case c == 'n':
		return v.literal(i, "null")
	}
	return i, false
}

// container checks the object or array that starts at i.
func (v *jsonValidator) container(i, depth int) (int, bool) {
	if depth > maxJSONDepth {
		return i, false
	}
	object := v.doc[i] == '{'
	end := byte(']')
	if object {
		end = '}'
	}
	i = v.space(i + 1)
	if i < len(v.doc) && v.doc[i] == end {
		return i + 1, true
	}
	for {
		var ok bool
		if object {
			if i >= len(v.doc) || v.doc[i] != '"' {
				return i, false
			}
			if i, ok = v.str(i); !ok {
				return i, false
			}
			if i = v.space(i); i >= len(v.doc) || v.doc[i] != ':' {
				return i, false
			}
			i = v.space(i + 1)
		}
		if i, ok = v.value(i, depth+1); !ok {
			return i, false
		}
		if i = v.space(i); i >= len(v.doc) {
			return i, false
		}
		switch v.doc[i] {
		case ',':
			i = v.space(i + 1)
		case end:
			return i + 1, true
		default:
			return i, false
		}
	}
}

// str checks the string that starts at i (at its quote).
func (v *jsonValidator) str(i int) (int, bool) {
	for i++; i < len(v.doc); i++ {
		switch c := v.doc[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return i, false
		case c == '\\':
			if i++; i >= len(v.doc) {
				return i, false
			}
			switch v.doc[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(v.doc) {
					return i, false
				}
				for _, h := range v.doc[i+1 : i+5] {
					if !isHex(h) {
						return i, false
					}
				}
				i += 4
			default:
				return i, false
			}
		}
	}
	return i, false
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// number checks the number that starts at i.
func (v *jsonValidator) number(i int) (int, bool) {
	if v.doc[i] == '-' {
		i++
	}
	switch {
	case i < len(v.doc) && v.doc[i] == '0':
		i++
	case i < len(v.doc) && v.doc[i] >= '1' && v.doc[i] <= '9':
		i = v.digits(i)
	default:
		return i, false
	}
	if i < len(v.doc) && v.doc[i] == '.' {
		start := i + 1
		if i = v.digits(start); i == start {
			return i, false
		}
	}
	if i < len(v.doc) && (v.doc[i] == 'e' || v.doc[i] == 'E') {
		i++
		if i < len(v.doc) && (v.doc[i] == '+' || v.doc[i] == '-') {
			i++
		}
		start := i
		if i = v.digits(start); i == start {
			return i, false
		}
	}
	return i, true
}

func (v *jsonValidator) digits(i int) int {
	for i < len(v.doc) && v.doc[i] >= '0' && v.doc[i] <= '9' {
		i++
	}
	return i
}

func (v *jsonValidator) literal(i int, lit string) (int, bool) {
	if len(v.doc)-i < len(lit) || string(v.doc[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}
