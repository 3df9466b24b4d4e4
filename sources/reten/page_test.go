package reten_test

import (
	"errors"
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
		for _, task := range p.Tasks {
			if task.ID == "" || len(task.Raw) == 0 {
				t.Fatalf("decoded a task without id or raw JSON: %+v", task)
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
