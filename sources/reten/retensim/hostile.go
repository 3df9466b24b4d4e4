package retensim

import (
	"fmt"
	"net/http"
	"strings"
)

// Hostile makes the task list misbehave in the ways a broken Reten, proxy or attacker
// could, so tests can show the client stays bounded. The zero value is a faithful list.
// A page of the wrong shape is FaultBody(200, "application/json", ...).
type Hostile struct {
	// TotalPages, when > 0, is the meta.totalPages every page reports (1,000,000; 2e9).
	TotalPages int
	// Total, when > 0, is the meta.total every page reports.
	Total int
	// Limit, when > 0, is the meta.limit every page reports.
	Limit int
	// PageSize, when > 0, is the page size served whatever per_page asks for.
	PageSize int
	// NoMeta leaves meta out of every page.
	NoMeta bool
	// Endless serves full pages of made-up tasks past the real ones: a list that never
	// ends (with NoMeta, nothing says where it would).
	Endless bool
	// IgnorePage serves page 1 whatever page is asked for.
	IgnorePage bool
	// RedirectTo, when set, answers every list request with a 302 to this base URL, same
	// path and query. Pointing at the simulator's own URL is a same-host redirect: the
	// redirected request (marked redirected=1) is then served.
	RedirectTo string
	// HugeBody, when > 0, answers 200 with a page whose one task carries this many bytes
	// of padding, streamed.
	HugeBody int64
}

// SetHostile makes the task list misbehave as h says, until SetHostile(Hostile{}).
func (s *Sim) SetHostile(h Hostile) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hostile = h
}

// hostileAnswer serves the answers that replace a page entirely; it reports whether it did.
func (s *Sim) hostileAnswer(w http.ResponseWriter, r *http.Request, h Hostile) bool {
	ep := EndpointListTasks
	switch {
	case h.RedirectTo != "" && r.URL.Query().Get("redirected") == "":
		q := r.URL.Query()
		q.Set("redirected", "1")
		s.count(ep, http.StatusFound)
		http.Redirect(w, r, strings.TrimRight(h.RedirectTo, "/")+r.URL.Path+"?"+q.Encode(), http.StatusFound)
		return true
	case h.HugeBody > 0:
		s.count(ep, http.StatusOK)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		if _, err := w.Write([]byte(`{"data":[{"id":"huge","pad":"`)); err != nil {
			return true
		}
		chunk := []byte(strings.Repeat("x", 64<<10))
		for left := h.HugeBody; left > 0; left -= int64(len(chunk)) {
			if _, err := w.Write(chunk[:min(int64(len(chunk)), left)]); err != nil {
				return true // the client stopped reading
			}
		}
		_, _ = w.Write([]byte(`"}]}`))
		return true
	}
	return false
}

// hostilePage changes a computed page: its items and its meta (nil: none).
func hostilePage(h Hostile, page, perPage, total int, data []Task, endless func(page int) []Task) ([]Task, map[string]int) {
	if h.Endless && len(data) < perPage {
		data = endless(page)
	}
	totalPages := (total + perPage - 1) / perPage
	if h.Total > 0 {
		total = h.Total
	}
	if h.TotalPages > 0 {
		totalPages = h.TotalPages
	}
	limit := perPage
	if h.Limit > 0 {
		limit = h.Limit
	}
	if h.NoMeta {
		return data, nil
	}
	return data, map[string]int{"page": page, "limit": limit, "total": total, "totalPages": totalPages}
}

// endlessPage makes up a full page of tasks for a page past the end.
func (s *Sim) endlessPage(page, perPage int) []Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Task, perPage)
	for i := range out {
		t := s.randomTaskLocked()
		t.ID = fmt.Sprintf("endless-%d-%d", page, i)
		t.ActivityOrigin, t.Type, t.CreatedAt = "ACTIVITY", "TASK", iso(s.now())
		out[i] = t
	}
	return out
}
