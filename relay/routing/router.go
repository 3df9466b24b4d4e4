package routing

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/reten/reten-relay/relay"
	"github.com/reten/reten-relay/schema"
)

// Route is one route of the config: where matching task events go.
type Route struct {
	// Name identifies the route in logs and metrics. Required and unique.
	Name string
	// Sink names the sink: "nats" or "kafka". Required.
	Sink string
	// Template is the subject (NATS) or topic (Kafka) template. Required.
	Template string
	// KeyTemplate is the Kafka record key template. Default: "{id}" (the task id, so each
	// task's events stay in order in one partition).
	KeyTemplate string
	// When maps field names (KnownFields) to accepted values. Default: match every event.
	When map[string][]string
}

// DefaultKeyTemplate is the key template of a route that sets none.
const DefaultKeyTemplate = "{id}"

// ErrInvalidRoute is wrapped by every error New returns.
var ErrInvalidRoute = errors.New("invalid route")

// Router renders the targets of task events. It is immutable and safe for concurrent use.
type Router struct {
	routes []compiled
	need   fieldSet // the fields the routes read
}

type compiled struct {
	name, sink string
	tmpl, key  *Template
	// customKey is false for the default key template: Target.Key stays empty, which
	// means the task id, and rendering is skipped.
	customKey bool
	filters   []filter
}

type filter struct {
	field  Field
	values []string
}

// New compiles routes, in order.
func New(routes []Route) (*Router, error) {
	r := &Router{}
	seen := make(map[string]bool, len(routes))
	for i, rt := range routes {
		c, err := compile(rt)
		if err != nil {
			return nil, fmt.Errorf("route %d (%q): %w", i, rt.Name, err)
		}
		if seen[rt.Name] {
			return nil, fmt.Errorf("route %d: %w: duplicate name %q", i, ErrInvalidRoute, rt.Name)
		}
		seen[rt.Name] = true
		r.routes = append(r.routes, c)
		for _, f := range append(c.tmpl.Fields(), c.key.Fields()...) {
			r.need |= 1 << f
		}
		for _, fl := range c.filters {
			r.need |= 1 << fl.field
		}
	}
	return r, nil
}

func compile(rt Route) (compiled, error) {
	c := compiled{name: rt.Name, sink: rt.Sink}
	if rt.Name == "" {
		return c, fmt.Errorf("%w: name is empty", ErrInvalidRoute)
	}
	if rt.Sink == "" {
		return c, fmt.Errorf("%w: sink is empty", ErrInvalidRoute)
	}
	var err error
	if c.tmpl, err = ParseTemplate(rt.Template); err != nil {
		return c, fmt.Errorf("%w: destination: %w", ErrInvalidRoute, err)
	}
	key := rt.KeyTemplate
	if key == "" {
		key = DefaultKeyTemplate
	}
	c.customKey = key != DefaultKeyTemplate
	if c.key, err = ParseTemplate(key); err != nil {
		return c, fmt.Errorf("%w: key: %w", ErrInvalidRoute, err)
	}
	for name, values := range rt.When {
		f, ok := LookupField(name)
		if !ok {
			return c, fmt.Errorf("%w: when: unknown field %q; known fields are %s",
				ErrInvalidRoute, name, strings.Join(KnownFields, ", "))
		}
		if len(values) == 0 {
			return c, fmt.Errorf("%w: when.%s: no values", ErrInvalidRoute, name)
		}
		c.filters = append(c.filters, filter{field: f, values: slices.Clone(values)})
	}
	// Map order is random: sort so Explain reports reasons in a stable order.
	slices.SortFunc(c.filters, func(a, b filter) int { return int(a.field) - int(b.field) })
	return c, nil
}

// Route returns the target of every route that matches ev, in route order, with its
// rendered Kafka key; nil when none does. It satisfies relay.Router.
func (r *Router) Route(ev schema.Event) []relay.Target {
	var v Values
	fillValues(&v, ev, r.need)
	var out []relay.Target
	for i := range r.routes {
		c := &r.routes[i]
		if c.matches(&v) {
			t := relay.Target{Route: c.name, Sink: c.sink, Destination: c.tmpl.Render(&v)}
			if c.customKey {
				t.Key = c.key.RenderRaw(&v)
			}
			if out == nil {
				out = make([]relay.Target, 0, len(r.routes)-i)
			}
			out = append(out, t)
		}
	}
	return out
}

func (c *compiled) matches(v *Values) bool {
	for _, f := range c.filters {
		if !slices.Contains(f.values, v.Get(f.field)) {
			return false
		}
	}
	return true
}
