package tasks

import (
	"runtime/debug"
	"testing"
)

func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// A boost raises the GC percent for a small live heap, never lowers it, and restore puts
// back the percent in force before; with collection off it leaves it off.
func TestGCBoost_RaisesAndRestores(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, before := range []int{100, 50, 1000} {
		debug.SetGCPercent(before)
		var g gcBoost
		g.raise()
		// A test's live heap is a few MB: far below the headroom.
		if got := gcPercent(); got != max(before, maxBoostPercent) {
			t.Errorf("before %d: boosted to %d, want %d", before, got, max(before, maxBoostPercent))
		}
		g.raise() // again, at the next chunk
		g.restore()
		if got := gcPercent(); got != before {
			t.Errorf("restored to %d, want %d", got, before)
		}
	}
	debug.SetGCPercent(-1)
	var g gcBoost
	g.raise()
	if got := gcPercent(); got != -1 {
		t.Errorf("collection off: boosted to %d", got)
	}
	g.restore()
	if got := gcPercent(); got != -1 {
		t.Errorf("collection off: restored to %d", got)
	}
}
