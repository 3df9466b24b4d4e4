package reten

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/schema/jsonscan"
)

// Meta is the pagination block of a task page. Reten's integration docs do not show it;
// every other Reten list has {page, limit, total, totalPages}, so the client reads that and
// works without it. A field Reten did not send is 0.
type Meta struct {
	Page       int `json:"page"`
	Limit      int `json:"limit"`
	Total      int `json:"total"`
	TotalPages int `json:"totalPages"`
}

// Page is one page of the task list.
type Page struct {
	// Tasks are the items, each with its raw JSON exactly as Reten sent it (a sub-slice of
	// the decoded body).
	Tasks []schema.Task
	// Meta is nil when the answer had none, or a meta without a total: without a total
	// the meta says nothing the walk can use.
	Meta *Meta
}

// DecodePage decodes a task page leniently in one pass: unknown fields are ignored, only
// each item's id is required (a string, or a number kept as written), and each item's
// Raw is a sub-slice of data, not a copy. Anything that is not a JSON object with a "data"
// array of objects fails with ErrBadResponse.
func DecodePage(data []byte) (Page, error) {
	var d pageDecoder
	return d.decode(data)
}

// pageDecoder decodes pages, reusing its buffers from one page to the next: a walk worker
// owns one, and the tasks of its last page stay valid until the next decode.
type pageDecoder struct {
	tasks []schema.Task
	spans []idSpan
	ids   strings.Builder
}

// idSpan is where an item's id is in the body; escaped ids are unquoted on the side.
type idSpan struct {
	start, end int
	escaped    bool
}

func (pd *pageDecoder) decode(data []byte) (Page, error) {
	s := jsonscan.Scanner{Data: data}
	pd.tasks, pd.spans = pd.tasks[:0], pd.spans[:0]
	var (
		p       Page
		hasData bool
	)
	i := s.WS(0)
	if i >= len(data) || data[i] != '{' {
		return Page{}, fmt.Errorf("%w: not a JSON object", ErrBadResponse)
	}
	end, err := s.Object(i, 1, func(key []byte, v int) (int, error) {
		switch string(key) {
		case "data":
			if hasData {
				return v, s.Syntax(v, `"data" appears twice`)
			}
			hasData = true
			if v >= len(data) || data[v] != '[' {
				return v, s.Syntax(v, `"data" is not an array`)
			}
			return s.Array(v, 2, func(v int) (int, error) { return pd.item(&s, v) })
		case "meta":
			m, end, err := decodeMeta(&s, v)
			p.Meta = m
			return end, err
		}
		return s.Value(v, 1)
	})
	if err == nil && s.WS(end) != len(data) {
		err = s.Syntax(s.WS(end), "trailing data after the page")
	}
	if err != nil {
		return Page{}, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	if !hasData {
		return Page{}, fmt.Errorf("%w: no \"data\" array", ErrBadResponse)
	}
	if err := pd.setIDs(data); err != nil {
		return Page{}, err
	}
	p.Tasks = pd.tasks
	return p, nil
}

// item scans one element of data: an object whose top-level "id" is a non-empty string or
// a number. Strings and null, most of a task's members, are scanned without Scanner.Value's
// dispatch: this runs for every member of every task.
func (pd *pageDecoder) item(s *jsonscan.Scanner, v int) (int, error) {
	d := s.Data
	if v >= len(d) || d[v] != '{' {
		return v, s.Syntax(v, fmt.Sprintf("item %d is not an object", len(pd.tasks)))
	}
	id := idSpan{start: -1}
	i, err := s.Object(v, 3, func(key []byte, at int) (int, error) {
		switch {
		case string(key) == "id":
			var end int
			var err error
			id, end, err = idValue(s, at)
			return end, err
		case at < len(d) && d[at] == '"':
			end, _, err := s.Str(at)
			return end, err
		case len(d)-at >= 4 && string(d[at:at+4]) == "null":
			return at + 4, nil
		}
		return s.Value(at, 3)
	})
	if err != nil {
		return i, err
	}
	if id.start < 0 || id.end == id.start {
		return i, s.Syntax(v, fmt.Sprintf("item %d has no id (a non-empty string or a number)", len(pd.tasks)))
	}
	pd.tasks = append(pd.tasks, schema.Task{Raw: d[v:i:i]})
	pd.spans = append(pd.spans, id)
	return i, nil
}

// idValue scans the value of an item's "id" at at: a string or a number gives its span,
// anything else none (the last "id" member counts, as in encoding/json).
func idValue(s *jsonscan.Scanner, at int) (idSpan, int, error) {
	d := s.Data
	switch {
	case at < len(d) && d[at] == '"':
		e, esc, err := s.Str(at)
		// Bad UTF-8 is read the way encoding/json reads it (as U+FFFD), so that the
		// id is the same whoever decodes the item.
		esc = esc || err == nil && !utf8.Valid(d[at+1:e-1])
		return idSpan{start: at + 1, end: e - 1, escaped: esc}, e, err
	case at < len(d) && (d[at] == '-' || d[at] >= '0' && d[at] <= '9'):
		e, err := s.Number(at)
		return idSpan{start: at, end: e}, e, err
	}
	e, err := s.Value(at, 3)
	return idSpan{start: -1}, e, err
}

// setIDs gives every task its id. All ids of a page share one string: one allocation per
// page instead of one per task (a kept id keeps its page's ids alive, a few KB).
func (pd *pageDecoder) setIDs(data []byte) error {
	n := 0
	for _, sp := range pd.spans {
		n += sp.end - sp.start
	}
	pd.ids.Reset()
	pd.ids.Grow(n)
	for i, sp := range pd.spans {
		if !sp.escaped {
			pd.ids.Write(data[sp.start:sp.end])
			continue
		}
		var id string
		if err := json.Unmarshal(data[sp.start-1:sp.end+1], &id); err != nil || id == "" {
			return fmt.Errorf("%w: item %d has no usable id", ErrBadResponse, i)
		}
		pd.ids.WriteString(id)
		pd.spans[i].end = pd.spans[i].start + len(id) // the unquoted length
	}
	all := pd.ids.String()
	at := 0
	for i, sp := range pd.spans {
		l := sp.end - sp.start
		pd.tasks[i].ID = all[at : at+l]
		at += l
	}
	return nil
}

// decodeMeta reads the meta object at v (or null). Fields other than the four integers are
// ignored; one of them that is not a non-negative integer fails the page.
func decodeMeta(s *jsonscan.Scanner, v int) (*Meta, int, error) {
	d := s.Data
	if v < len(d) && d[v] == 'n' {
		end, err := s.Literal(v, "null")
		return nil, end, err
	}
	if v >= len(d) || d[v] != '{' {
		return nil, v, s.Syntax(v, `"meta" is not an object`)
	}
	var (
		m        Meta
		hasTotal bool
	)
	end, err := s.Object(v, 2, func(key []byte, at int) (int, error) {
		var f *int
		switch string(key) {
		case "page":
			f = &m.Page
		case "limit":
			f = &m.Limit
		case "total":
			f, hasTotal = &m.Total, true
		case "totalPages":
			f = &m.TotalPages
		default:
			return s.Value(at, 2)
		}
		e, err := s.Value(at, 2)
		if err != nil {
			return e, err
		}
		if string(d[at:e]) == "null" {
			if f == &m.Total {
				hasTotal = false
			}
			return e, nil
		}
		n, ok := jsonscan.Integer(d[at:e])
		if !ok {
			return e, s.Syntax(at, fmt.Sprintf("meta.%s is not a non-negative integer: %.20s", key, d[at:e]))
		}
		*f = n
		return e, nil
	})
	if err != nil || !hasTotal {
		return nil, end, err
	}
	return &m, end, nil
}
