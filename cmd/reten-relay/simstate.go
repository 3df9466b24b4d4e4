package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/reten/reten-relay/relay/config"
	"github.com/reten/reten-relay/sources/reten/retensim"
)

// simStatePath is where `run` keeps the in-process simulator's tasks: beside the relay's
// state file, so that a restart finds the tasks its snapshot knows. A simulator that
// invented new tasks at every start would look like a mass delete to the relay. "" when
// there is nothing to keep (no simulator, no tasks pipeline, or a state that is not a file).
func simStatePath(cfg *config.Config) string {
	if !cfg.Reten.IsSimulator() || cfg.Tasks == nil || cfg.Tasks.PollingOff() || strings.Contains(cfg.Tasks.State, ":") {
		return ""
	}
	return cfg.Tasks.State + ".simulator.json"
}

// loadSimTasks reads the simulator's saved tasks; none (and no error) when there is no file.
func loadSimTasks(path string) ([]retensim.Task, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read simulator tasks: %w", err)
	}
	var tasks []retensim.Task
	if err := json.Unmarshal(b, &tasks); err != nil {
		return nil, fmt.Errorf("simulator tasks %s: %w (delete it together with the state file to start afresh)", path, err)
	}
	return tasks, nil
}

// saveSimTasks writes the simulator's tasks atomically (a crash leaves the old file).
func saveSimTasks(path string, sim *retensim.Sim) error {
	b, err := json.Marshal(sim.Tasks())
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("save simulator tasks: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save simulator tasks: %w", err)
	}
	return nil
}
