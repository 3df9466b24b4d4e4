package tasks

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/reten/reten-relay/schema"
)

// canonicalSlow is the reference canonical form: decode into any and re-encode. The
// tests check canonical against it.
func canonicalSlow(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode task json: %w", err)
	}
	var buf bytes.Buffer
	buf.Grow(len(raw))
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode canonical task json: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

var canonCases = []string{
	`{"a":1,"b":{"x":[1,2],"y":null}}`,
	`{"b":{"y":null,"x":[1,2]},"a":1}`,
	"{\n\"a\": 1 ,\"b\" : \"x\"}",
	`{"a":"é<>&"}`,
	`{"a":"\u00e9\u003c\n\t\"\\\/\u0001\u2028x\u2029"}`,
	"{\"a\":\"\u2028 and \xff bad utf8\"}",
	`{"n":12345678901234567890,"f":-1.5e+10,"z":0,"t":true,"fa":false,"nu":null}`,
	`{"dup":1,"dup":2}`,
	`{"e\u00e9":1,"e":2,"é":3}`,
	`[]`, `{}`, `[{}, [], "", 0]`, `"just a string"`, ` 42 `,
	`{"nested":{"deeper":{"deepest":[{"b":1,"a":2}]}}}`,
}

func TestCanonical_MatchesDecodeAndReencode(t *testing.T) {
	cases := append([]string(nil), canonCases...)
	cases = append(cases, string(benchTask(7, 3).Raw))
	for _, c := range cases {
		want, err := canonicalSlow([]byte(c))
		if err != nil {
			t.Fatalf("reference on %q: %v", c, err)
		}
		got, err := canonical([]byte(c))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("canonical(%q) = %q, %v; want %q", c, got, err, want)
		}
	}
}

// TestHasher_ReusedMatchesFresh hashes every case twice in a row with one hasher, with
// invalid inputs and same-keys-other-order objects between: a writer used again (its
// buffers and its remembered key order) gives what a fresh one gives.
func TestHasher_ReusedMatchesFresh(t *testing.T) {
	cases := append([]string(nil), canonCases...)
	cases = append(cases, string(benchTask(7, 3).Raw), string(benchTask(8, 1).Raw),
		`{"a":1,"b":2}`, `{"b":1,"a":2}`, `{"a":1,"a":2}`, `{"a":1,"a":3}`, `{"a\u0062":1,"ab":2}`,
		`{"ab":1,"a\u0062":2}`, `{"a":1,"b":`, `{"a":{"b":1}}`)
	var h hasher
	for _, c := range append(cases, cases...) {
		for range 2 {
			want, errWant := contentHash([]byte(c))
			got, err := h.contentHash([]byte(c))
			if (err != nil) != (errWant != nil) || got != want {
				t.Errorf("reused hasher on %q = %x, %v; fresh %x, %v", c, got, err, want, errWant)
			}
		}
	}
}

func TestCanonical_RejectsWhatIsNotOneValue(t *testing.T) {
	for _, c := range []string{``, `{`, `{"a"}`, `{"a":}`, `[1,]`, `{"a":1}x`, `tru`, `"open`, `{"a":01}`, `1 2`} {
		if out, err := canonical([]byte(c)); err == nil {
			t.Errorf("canonical(%q) = %q, want an error", c, out)
		}
	}
}

func FuzzCanonical(f *testing.F) {
	for _, c := range canonCases {
		f.Add([]byte(c))
	}
	var h hasher // used again across inputs, as a walk does
	f.Fuzz(func(t *testing.T, in []byte) {
		want, errSlow := canonicalSlow(in)
		got, err := canonical(in)
		reused, errReused := h.contentHash(in)
		if errSlow != nil || !json.Valid(in) {
			return // invalid input: canonical may refuse it or not, but must not panic
		}
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("canonical(%q) = %q, %v; want %q", in, got, err, want)
		}
		if errReused != nil || reused != sha256.Sum256(want) {
			t.Fatalf("reused hasher on %q: %x, %v; want the hash of %q", in, reused, errReused, want)
		}
	})
}

func BenchmarkCanonical(b *testing.B) {
	raw := benchTask(1, 1).Raw
	for _, impl := range []struct {
		name string
		f    func([]byte) ([]byte, error)
	}{{"one-pass", canonical}, {"decode-reencode", canonicalSlow}} {
		b.Run(impl.name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, err := impl.f(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestEncodeEvent_WritesWhatEncodingJSONWrites(t *testing.T) {
	at := time.Date(2026, 4, 15, 9, 0, 3, 120_000_000, time.UTC)
	task := benchTask(3, 1).Raw
	for _, ev := range []schema.Event{
		schema.NewEvent("https://api.reten.test", "abc", "t<1>", schema.OpCreated, at, task, nil, nil),
		schema.NewEvent("src \u2028 é", "abc", "t1", schema.OpUpdated, at.Truncate(time.Second), task, []byte(`{"id":"t1"}`), []string{"status", "notes"}),
		schema.NewEvent("src", "abc", "t1", schema.OpDeleted, at, nil, []byte(`{"id":"t1"}`), nil),
		func() schema.Event {
			ev := schema.NewEvent("src", "abc", "t1", schema.OpUpdated, at, []byte(`{"id":"t1"}`), []byte(`{"id":"t1"}`), []string{"x"})
			ev.Data.Truncated, ev.Data.OriginalSize = true, 2_000_000
			return ev
		}(),
	} {
		got, err := encodeEvent(ev)
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err2 := enc.Encode(ev); err != nil || err2 != nil {
			t.Fatal(err, err2)
		}
		if string(got) != strings.TrimSuffix(want.String(), "\n") {
			t.Errorf("encodeEvent:\n%s\nencoding/json:\n%s", got, want.String())
		}
	}
}
