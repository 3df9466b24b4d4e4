package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/reten/reten-relay/relay/config"
	"github.com/reten/reten-relay/relay/tasks"
)

// TestRun_WithTheSimulatorARestartSeesTheSameTasks: `run` against the in-process simulator
// keeps the simulator's tasks beside its state, so a restart is not a mass delete.
func TestRun_WithTheSimulatorARestartSeesTheSameTasks(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Load("run.yaml", fmt.Appendf(nil, `
reten: {url: simulator}
nats: {url: embedded, store_dir: %q}
tasks:
  interval: 50ms
  state: %q
  routes: [{name: all, sink: nats, subject: "reten.tasks.{op}.{channel}"}]
http: {listen: "127.0.0.1:0"}
`, filepath.Join(dir, "nats"), filepath.Join(dir, "tasks.db")), nil)
	if err != nil {
		t.Fatal(err)
	}
	runOnce := func(cycles int) []tasks.CycleReport {
		opts, err := runOptions(cfg)
		if err != nil {
			t.Fatal(err)
		}
		opts.simChurn = 0 // a restart must find exactly what the last run left
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var mu sync.Mutex
		var reps []tasks.CycleReport
		opts.onCycle = func(r tasks.CycleReport, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				reps = append(reps, r)
			}
			if len(reps) == cycles {
				cancel()
			}
		}
		if code := runApp(ctx, cfg, "", zerolog.Nop(), nil, opts); code != exitOK {
			t.Fatalf("run exited %d", code)
		}
		mu.Lock()
		defer mu.Unlock()
		return reps
	}
	first := runOnce(1)
	if first[0].Created != 200 {
		t.Fatalf("first run: %+v", first[0])
	}
	second := runOnce(2)
	for _, r := range second {
		if r.Created+r.Updated+r.Deleted+r.Suspected+r.HeldDeletes != 0 || r.Tasks != 200 {
			t.Errorf("after a restart the relay saw changes: %+v", r)
		}
	}
}
