package tasks

import (
	"sync"
	"time"
)

// Progress logging of long listings.
const (
	// progressMinPages is the listing size from which page progress is logged.
	progressMinPages = 20
	// progressEvery is the longest quiet time between two progress lines.
	progressEvery = 10 * time.Second
)

// progress follows one listing for humans (logs) and /metrics.
type progress struct {
	mu      sync.Mutex
	start   time.Time
	lastLog time.Time
	lastPct int
}

func (g *progress) begin(now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.start, g.lastLog, g.lastPct = now, now, 0
}

// callback returns the ListOptions.Progress of one listing: it sets the walk gauges, logs
// pages done/total with the rate about every tenth of a long listing (or every 10s), then
// calls next.
func (g *progress) callback(p *Poller, next func(done, total int)) func(done, total int) {
	return func(done, total int) {
		if next != nil {
			next(done, total)
		}
		if m := p.cfg.Metrics; m != nil {
			m.ListingPagesDone.Set(float64(done))
			m.ListingPagesTotal.Set(float64(total))
		}
		if total < progressMinPages {
			return
		}
		now := p.cfg.Now()
		g.mu.Lock()
		pct := done * 100 / max(total, 1)
		due := pct/10 > g.lastPct/10 || now.Sub(g.lastLog) >= progressEvery || done == total
		if !due {
			g.mu.Unlock()
			return
		}
		g.lastPct, g.lastLog = pct, now
		elapsed := now.Sub(g.start)
		g.mu.Unlock()
		ev := p.log.Info().Int("pages_done", done).Int("pages_total", total).Int("percent", pct)
		if secs := elapsed.Seconds(); secs > 0 {
			rate := float64(done) / secs
			ev = ev.Float64("pages_per_second", rate)
			if rate > 0 && done < total {
				ev = ev.Stringer("eta", time.Duration(float64(total-done)/rate*float64(time.Second)).Round(time.Second))
			}
		}
		ev.Msg("listing tasks")
	}
}
