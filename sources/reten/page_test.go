package reten_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/reten/reten-relay/sources/reten"
)

func FuzzDecodePage(f *testing.F) {
	for _, seed := range []string{
		`{"data":[{"id":"a1b2","status":"PENDING","extra":{"x":[1,2]}}],"meta":{"page":1,"limit":10,"total":1,"totalPages":1}}`,
		`{"data":[]}`,
		`{"data":[{"id":"a"},{"id":"b"}],"meta":null}`,
		`{"data":[{"id":7}]}`,
		`{"data":[{"noid":true}]}`,
		`{"data":[{"id":"a"}`,
		`<html>oops</html>`,
		`[]`,
		`null`,
		``,
		`{"data":[{"id":"a\u00e9\"b","x":[1,{"y":-0.5e+3}]}],"meta":{"total":1,"totalPages":1}}`,
		`{"data":[{"id":"a"}],"meta":{"total":"1"}}`,
		`{"data":[{"id":"a"}],"data":[]}`,
		` {"data" : [ {"id" : "a" } ] } `,
		`{"data":[{"id":"a","s":"ctl` + "\x01" + `"}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := reten.DecodePage(data)
		if err != nil {
			if !errors.Is(err, reten.ErrBadResponse) {
				t.Fatalf("error %v does not wrap ErrBadResponse", err)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		for _, task := range p.Tasks {
			var item struct{ ID json.RawMessage }
			if task.ID == "" || !json.Valid(task.Raw) || json.Unmarshal(task.Raw, &item) != nil {
				t.Fatalf("decoded a task without id or raw JSON: %+v", task)
			}
			var s string
			if json.Unmarshal(item.ID, &s) != nil {
				s = string(item.ID) // a number, kept as written
			}
			if s != task.ID && !bytes.Contains(task.Raw, []byte(`"ID"`)) && !bytes.Contains(task.Raw, []byte(`"Id"`)) {
				t.Fatalf("id %q, encoding/json reads %q from %s", task.ID, s, task.Raw)
			}
		}
	})
}

func TestDecodePage_KeepsRawBytesAndToleratesUnknownFields(t *testing.T) {
	raw := `{"id": "t1",  "status":"PENDING", "brandNew": {"nested": [1, 2]}}`
	p, err := reten.DecodePage([]byte(`{"data":[` + raw + `],"meta":{"page":1,"limit":10,"total":1,"totalPages":1},"extra":true}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Tasks) != 1 || p.Tasks[0].ID != "t1" || string(p.Tasks[0].Raw) != raw {
		t.Fatalf("tasks = %+v", p.Tasks)
	}
	if p.Meta == nil || p.Meta.TotalPages != 1 {
		t.Fatalf("meta = %+v", p.Meta)
	}
}

func TestDecodePage_IDsAsStringsOrNumbersAndMetaOptional(t *testing.T) {
	cases := []struct {
		name, body string
		ids        []string
		meta       *reten.Meta
		withError  bool
	}{
		{"string and number ids", `{"data":[{"id":"x"},{"id":42},{"id":"\u0061b"}]}`, []string{"x", "42", "ab"}, nil, false},
		{"null meta", `{"data":[{"id":"x"}],"meta":null}`, []string{"x"}, nil, false},
		{"meta without a total says nothing", `{"data":[],"meta":{"page":1}}`, nil, nil, false},
		{"meta with its fields", `{"data":[],"meta":{"page":2,"limit":10,"total":15,"totalPages":2}}`, nil, &reten.Meta{Page: 2, Limit: 10, Total: 15, TotalPages: 2}, false},
		{"a negative total", `{"data":[],"meta":{"total":-1}}`, nil, nil, true},
		{"an empty id", `{"data":[{"id":""}]}`, nil, nil, true},
		{"a null id", `{"data":[{"id":null}]}`, nil, nil, true},
		{"data is an object", `{"data":{"id":"x"}}`, nil, nil, true},
		{"an item is an array", `{"data":[["x"]]}`, nil, nil, true},
		{"trailing garbage", `{"data":[]} {}`, nil, nil, true},
		{"deep nesting", `{"data":[{"id":"x","n":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}]}`, nil, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := reten.DecodePage([]byte(c.body))
			if c.withError {
				if !errors.Is(err, reten.ErrBadResponse) {
					t.Fatalf("err = %v, want ErrBadResponse", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, task := range p.Tasks {
				ids = append(ids, task.ID)
			}
			if !slices.Equal(ids, c.ids) || (c.meta == nil) != (p.Meta == nil) || c.meta != nil && *c.meta != *p.Meta {
				t.Fatalf("ids %q meta %+v", ids, p.Meta)
			}
		})
	}
}
