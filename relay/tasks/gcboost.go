package tasks

import (
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// Heap headroom of a large listing (see gcBoost).
const (
	// boostHeadroom is how far beyond its live heap a large listing's heap may grow before
	// the next collection.
	boostHeadroom = 192 << 20
	// boostCeiling bounds the heap goal a boost sets: a large tenant's live heap soon
	// exceeds half of it, and from then on the percent in force holds, so its peak (a
	// million tasks: ~1 GB) is never raised by the boost.
	boostCeiling = 320 << 20
	// maxBoostPercent bounds the GC percent a boost sets (a tiny live heap).
	maxBoostPercent = 800
)

// gcBoost lets the heap of a large listing grow by boostHeadroom beyond its live heap
// between collections, up to boostCeiling, never less than the GC percent in force: a
// 100,000-task first sync allocates ~0.8 GB with a live heap of 50-100 MB, and at the
// default GC percent (a collection whenever the heap doubles) collecting was a quarter
// of its CPU. The percent follows the live heap at every chunk, and the percent in force
// before is restored when the cycle ends; settleMemory then hands the garbage back. A
// memory limit set by the operator (GOMEMLIMIT) still applies.
type gcBoost struct {
	mu   sync.Mutex
	prev int  // the GC percent before the boost
	on   bool // a boost is in force
}

// raise sets the GC percent for the live heap now.
func (g *gcBoost) raise() {
	g.mu.Lock()
	defer g.mu.Unlock()
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	live := max(sample[0].Value.Uint64(), 1<<20)
	goal := min(live+boostHeadroom, max(boostCeiling, live))
	percent := int(min(uint64(maxBoostPercent), (goal-live)*100/live))
	if !g.on {
		g.prev = debug.SetGCPercent(100)
		debug.SetGCPercent(g.prev)
		if g.prev < 0 { // collection is off: leave it so
			return
		}
		g.on = true
	}
	debug.SetGCPercent(max(percent, g.prev))
}

// restore sets the GC percent in force before raise.
func (g *gcBoost) restore() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.on {
		debug.SetGCPercent(g.prev)
		g.on = false
	}
}
