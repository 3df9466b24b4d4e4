package main

import (
	"testing"

	"github.com/reten/reten-relay/relay/config"
)

// The heap floor is kept only for the results pipeline, and never against an operator's
// own garbage-collector settings.
func TestHeapFloor(t *testing.T) {
	withResults := &config.Config{Results: config.DefaultResults()}
	for _, c := range []struct {
		name string
		cfg  *config.Config
		env  map[string]string
		want int
	}{
		{"results", withResults, nil, heapFloorBytes},
		{"results, GOGC empty", withResults, map[string]string{"GOGC": ""}, heapFloorBytes},
		{"tasks only", &config.Config{}, nil, 0},
		{"GOGC set", withResults, map[string]string{"GOGC": "200"}, 0},
		{"GOMEMLIMIT set", withResults, map[string]string{"GOMEMLIMIT": "512MiB"}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			getenv := func(k string) (string, bool) { v, ok := c.env[k]; return v, ok }
			if got := len(heapFloor(c.cfg, getenv)); got != c.want {
				t.Errorf("heap floor of %d bytes, want %d", got, c.want)
			}
		})
	}
}
