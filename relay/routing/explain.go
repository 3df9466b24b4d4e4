package routing

import (
	"fmt"
	"slices"
	"strings"

	"github.com/reten/reten-relay/schema"
)

// Explanation says whether one route takes an event, where to and, if not, why not.
type Explanation struct {
	// Route is the route's name.
	Route string
	// Sink is the route's sink.
	Sink string
	// Template is the route's subject or topic template.
	Template string
	// Matched is true when the route takes the event.
	Matched bool
	// Destination is the rendered subject or topic (also set when the route does not match,
	// to show what it would have been).
	Destination string
	// Key is the rendered Kafka key.
	Key string
	// Reasons lists every `when` condition the event fails; empty when Matched.
	Reasons []string
}

// Explain reports, for every route in order, whether it matches ev and why not. It is
// for humans (the `reten-relay routes` command); Route is the fast path.
func (r *Router) Explain(ev schema.Event) []Explanation {
	v := ValuesOf(ev)
	out := make([]Explanation, 0, len(r.routes))
	for i := range r.routes {
		c := &r.routes[i]
		e := Explanation{
			Route:       c.name,
			Sink:        c.sink,
			Template:    c.tmpl.String(),
			Destination: c.tmpl.Render(v),
			Key:         c.key.RenderRaw(v),
		}
		for _, f := range c.filters {
			got := v.Get(f.field)
			if !slices.Contains(f.values, got) {
				e.Reasons = append(e.Reasons, fmt.Sprintf("%s is %s, not one of %s",
					f.field, describe(got), strings.Join(quoteAll(f.values), ", ")))
			}
		}
		e.Matched = len(e.Reasons) == 0
		out = append(out, e)
	}
	return out
}

// String formats the explanation on one line.
func (e Explanation) String() string {
	if e.Matched {
		return fmt.Sprintf("%s: matched: %s %s (key %q)", e.Route, e.Sink, e.Destination, e.Key)
	}
	return fmt.Sprintf("%s: no match: %s", e.Route, strings.Join(e.Reasons, "; "))
}

func describe(s string) string {
	if s == "" {
		return "missing"
	}
	return fmt.Sprintf("%q", s)
}

func quoteAll(vs []string) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = fmt.Sprintf("%q", v)
	}
	return out
}
