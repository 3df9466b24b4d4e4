package results

import (
	"math/rand/v2"
	"time"
)

const (
	// backoffMultiplier grows a message's wait with each failure in a row.
	backoffMultiplier = 1.5
	// isolatedScale shrinks the backoff while Reten answers most POSTs: one failure among
	// successes is most likely a glitch, and a quick retry costs one POST.
	isolatedScale = 0.05
	// probeMaxWait bounds the pause between probes of a Reten that is down, so delivery
	// resumes within seconds of its return.
	probeMaxWait = 10 * time.Second
	// broadMinSamples, broadShare and broadKeys say when failures are Reten's, not a
	// message's: at least half of the recent POSTs failed, for at least three activities.
	broadMinSamples = 8
	broadKeys       = 3
)

// sample is the outcome of one POST.
type sample struct {
	fail bool
	key  string
}

// limiter is the AIMD limit on POSTs in flight. It halves (at most once per round of
// POSTs) when recent failures span many activities, and grows by one with every success;
// at one POST in flight, each further round of failures is a failed probe, and the engine
// spaces probes with the backoff.
type limiter struct {
	max, limit int
	ring       []sample // the last outcomes
	pos, n     int
	fails      int
	seq        uint64 // the latest dispatch
	cutSeq     uint64 // POSTs dispatched up to here were already in flight at the last cut
	probeFails int    // failed probes in a row at the floor
}

func newLimiter(maxInFlight int) limiter {
	return limiter{max: maxInFlight, limit: maxInFlight, ring: make([]sample, min(max(32, 2*maxInFlight), 512))}
}

func (l *limiter) record(s sample) {
	if l.n == len(l.ring) {
		if l.ring[l.pos].fail {
			l.fails--
		}
	} else {
		l.n++
	}
	l.ring[l.pos] = s
	l.pos = (l.pos + 1) % len(l.ring)
	if s.fail {
		l.fails++
	}
}

// congested reports whether most recent POSTs failed.
func (l *limiter) congested() bool {
	return l.n >= broadMinSamples && 2*l.fails >= l.n
}

// success records a POST Reten answered (2xx, 409 or a hopeless 4xx).
func (l *limiter) success() {
	l.record(sample{})
	l.limit = min(l.max, l.limit+1)
	l.probeFails = 0
}

// failure records a transient failure of the POST dispatched as seq. It reports whether
// this failure started a new round of broad failures: the limit was cut (or, at the floor,
// a probe failed).
func (l *limiter) failure(key string, seq uint64) bool {
	l.record(sample{fail: true, key: key})
	if seq <= l.cutSeq || !l.congested() || !l.failuresSpanKeys() {
		return false
	}
	l.cutSeq = l.seq
	if l.limit == 1 {
		l.probeFails++
	}
	l.limit = max(1, l.limit/2)
	return true
}

// failuresSpanKeys reports whether the recent failures belong to several activities.
func (l *limiter) failuresSpanKeys() bool {
	var seen [broadKeys - 1]string
	k := 0
	for i := 0; i < l.n; i++ {
		s := l.ring[i]
		if !s.fail {
			continue
		}
		known := false
		for _, x := range seen[:k] {
			known = known || x == s.key
		}
		if known {
			continue
		}
		if k == len(seen) {
			return true
		}
		seen[k] = s.key
		k++
	}
	return false
}

// backoffWait is the wait before the n-th retry of a message (n ≥ 1), with ±50% jitter,
// at a twentieth of the configured backoff while failures are isolated.
func (p *Pipeline) backoffWait(n int, isolated bool) time.Duration {
	d := float64(p.cfg.Backoff.Initial)
	if isolated {
		d *= isolatedScale
	}
	for i := 1; i < n && d < float64(p.cfg.Backoff.Max); i++ {
		d *= backoffMultiplier
	}
	d *= 0.5 + rand.Float64()
	return min(time.Duration(d), p.cfg.Backoff.Max)
}

// probeWait is the pause after the n-th failed probe of a Reten that is down.
func (p *Pipeline) probeWait(n int) time.Duration {
	return min(p.backoffWait(n, false), probeMaxWait)
}
