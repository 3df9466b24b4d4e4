package retensim

import (
	"net/url"
	"time"
)

// pageLocked returns how many of the tenant's tasks match q and the n of them from offset
// on. Without filters it costs O(n + log tasks), through the tenant's index; with filters it
// scans the tenant's tasks (cheap checks, dates parsed only when a date filter is set).
func (s *Sim) pageLocked(tenant string, q url.Values, offset, n int) (int, []*Task) {
	l := s.tenantList(tenant)
	if !hasFilters(q) {
		return l.live, l.window(offset, n)
	}
	f := newFilter(q)
	total := 0
	var out []*Task
	l.each(func(t *Task) bool {
		if f.matches(t) {
			if total >= offset && len(out) < n {
				out = append(out, t)
			}
			total++
		}
		return true
	})
	return total, out
}

// filterParams are the list endpoint's filters (reten-api.md §2).
var filterParams = []string{"status", "result_status", "channel", "external_commerce_id", "external_operator_id", "scheduled_from", "scheduled_to"}

func hasFilters(q url.Values) bool {
	for _, p := range filterParams {
		if q.Get(p) != "" {
			return true
		}
	}
	return false
}

// filter is a list query's filters, parsed once per request.
type filter struct {
	status, resultStatus, channel, commerce, operator string
	from, to                                          *time.Time
}

func newFilter(q url.Values) filter {
	f := filter{status: q.Get("status"), resultStatus: q.Get("result_status"), channel: q.Get("channel"),
		commerce: q.Get("external_commerce_id"), operator: q.Get("external_operator_id")}
	if v := q.Get("scheduled_from"); v != "" {
		if t, err := parseDate(v); err == nil {
			f.from = &t
		}
	}
	if v := q.Get("scheduled_to"); v != "" {
		if t, err := parseDate(v); err == nil {
			f.to = &t
		}
	}
	return f
}

func (f filter) matches(t *Task) bool {
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	switch {
	case f.status != "" && t.Status != f.status,
		f.resultStatus != "" && deref(t.ResultStatus) != f.resultStatus,
		f.channel != "" && t.Channel != f.channel,
		f.commerce != "" && t.CommerceExternalID != f.commerce,
		f.operator != "" && deref(t.OperatorExternalID) != f.operator:
		return false
	}
	if f.from == nil && f.to == nil {
		return true
	}
	at, _ := parseDate(t.ScheduledAt)
	return (f.from == nil || !at.Before(*f.from)) && (f.to == nil || !at.After(*f.to))
}
