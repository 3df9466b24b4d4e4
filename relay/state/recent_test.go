package state

import (
	"bytes"
	"testing"
)

func TestRecentBodies(t *testing.T) {
	body := func(seq uint64) []byte { return []byte{byte(seq), byte(seq >> 8), byte(seq >> 16)} }
	has := func(t *testing.T, r *recentBodies, seq uint64) bool {
		t.Helper()
		b, ok := r.read(seq)
		if ok && !bytes.Equal(b, body(seq)) {
			t.Fatalf("body of %d = %v, want %v", seq, b, body(seq))
		}
		return ok
	}

	t.Run("a body is read once per message, in any order, then forgotten", func(t *testing.T) {
		var r recentBodies
		r.add(10, body(10), 2)
		r.add(11, body(11), 1)
		r.add(13, body(13), 1) // 12 had no targets
		for _, seq := range []uint64{11, 10, 13, 10} {
			if !has(t, &r, seq) {
				t.Fatalf("body %d missing", seq)
			}
		}
		for _, seq := range []uint64{9, 10, 11, 12, 13, 14} {
			if has(t, &r, seq) {
				t.Fatalf("body %d still there", seq)
			}
		}
		if r.size != 0 || len(r.bodies) != 0 {
			t.Fatalf("size %d, window %d after every read", r.size, len(r.bodies))
		}
	})

	t.Run("dropped bodies are forgotten, the others stay", func(t *testing.T) {
		var r recentBodies
		for seq := uint64(1); seq <= 4; seq++ {
			r.add(seq, body(seq), 1)
		}
		r.drop([]uint64{1, 3})
		if has(t, &r, 1) || has(t, &r, 3) || !has(t, &r, 2) || !has(t, &r, 4) {
			t.Fatal("drop forgot the wrong bodies")
		}
	})

	t.Run("the bytes kept are bounded", func(t *testing.T) {
		var r recentBodies
		big := make([]byte, maxRecentBytes/2+1)
		r.add(1, big, 1)
		r.add(2, big, 1) // over the bound: not kept
		if _, ok := r.read(2); ok {
			t.Fatal("a body over the bound was kept")
		}
		if _, ok := r.read(1); !ok {
			t.Fatal("the first body was lost")
		}
	})

	t.Run("an old unread body does not stretch the window", func(t *testing.T) {
		var r recentBodies
		r.add(1, body(1), 1)
		r.add(2+maxRecentSpan, body(2+maxRecentSpan), 1)
		if len(r.bodies) > maxRecentSpan {
			t.Fatalf("window of %d", len(r.bodies))
		}
		if has(t, &r, 1) || !has(t, &r, 2+maxRecentSpan) {
			t.Fatal("the oldest body should give way to the newest")
		}
	})

	t.Run("reset forgets everything", func(t *testing.T) {
		var r recentBodies
		r.add(5, body(5), 1)
		r.reset()
		if has(t, &r, 5) || r.size != 0 {
			t.Fatal("body kept after reset")
		}
		r.add(3, body(3), 1) // a replaced file starts its sequences anew
		if !has(t, &r, 3) {
			t.Fatal("body after reset missing")
		}
	})
}
