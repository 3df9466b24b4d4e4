package config

import (
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/reten/reten-relay/relay/routing"
)

// RoutingRoutes converts the routes for routing.New.
func (t *TasksConfig) RoutingRoutes() []routing.Route {
	out := make([]routing.Route, len(t.Routes))
	for i, r := range t.Routes {
		out[i] = routing.Route{Name: r.Name, Sink: r.Sink, Template: r.Destination(), KeyTemplate: r.Key, When: r.When}
	}
	return out
}

// NewRouter builds the router of the tasks routes. A validated config never fails here.
func (t *TasksConfig) NewRouter() (*routing.Router, error) {
	r, err := routing.New(t.RoutingRoutes())
	if err != nil {
		return nil, fmt.Errorf("build task router: %w", err)
	}
	return r, nil
}

// Redacted returns the effective configuration as YAML, defaults included, with the API key
// redacted: for `reten-relay check` and debug logs.
func (c *Config) Redacted() string {
	out, err := yaml.Marshal(c)
	if err != nil {
		return fmt.Sprintf("# cannot print config: %v\n", err)
	}
	return string(out)
}
