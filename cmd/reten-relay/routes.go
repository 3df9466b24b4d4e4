package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/reten/reten-relay/schema"
)

// cmdRoutes explains which routes a sample task takes: for each op, every route with its
// rendered subject or topic and key, or why it does not match.
func cmdRoutes(args []string, stdout, stderr io.Writer, getenv env) int {
	fs := newFlags("routes")
	path := fs.String("config", "config.yaml", "config file")
	op := fs.String("op", "", "explain only this op: created, updated, deleted or dispatched (default: the first three)")
	pos, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "usage: reten-relay routes [-config config.yaml] [-op created] task.json\nRun `reten-relay routes -h` for more.")
		return exitUsage
	}
	cfg, code := loadConfig(*path, stderr, getenv)
	if cfg == nil {
		return code
	}
	if cfg.Tasks == nil {
		fmt.Fprintf(stderr, "%s: the tasks section is missing, so there are no routes\n", *path)
		return exitUsage
	}
	router, err := cfg.Tasks.NewRouter()
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", *path, err)
		return exitUsage
	}
	raw, err := os.ReadFile(pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "routes: %v\n", err)
		return exitUsage
	}
	task, err := sampleTask(raw)
	if err != nil {
		fmt.Fprintf(stderr, "routes: %s: %v\n", pos[0], err)
		return exitUsage
	}
	ops := []schema.Op{schema.OpCreated, schema.OpUpdated, schema.OpDeleted}
	if *op != "" {
		ops = []schema.Op{schema.Op(*op)}
		if *op != "created" && *op != "updated" && *op != "deleted" {
			fmt.Fprintf(stderr, "routes: -op must be created, updated or deleted, got %q\n", *op)
			return exitUsage
		}
	}
	for _, o := range ops {
		ev := schema.Event{Subject: task.ID, Data: schema.EventData{Op: o, Task: task.Raw, Previous: task.Raw}}
		if o == schema.OpCreated {
			ev.Data.Previous = nil
		}
		if o == schema.OpDeleted {
			ev.Data.Task = nil
		}
		fmt.Fprintf(stdout, "%s:\n", o)
		matched := 0
		for _, e := range router.Explain(ev) {
			if e.Matched {
				matched++
				fmt.Fprintf(stdout, "  ✓ %-20s %s %s (key %s)\n", e.Route, e.Sink, e.Destination, keyOrID(e.Key, task.ID))
			} else {
				fmt.Fprintf(stdout, "  ✗ %-20s %s\n", e.Route, strings.Join(e.Reasons, "; "))
			}
		}
		if matched == 0 {
			fmt.Fprintln(stdout, "  no route matches: the event would be counted as unrouted and dropped")
		}
	}
	return exitOK
}

func keyOrID(key, id string) string {
	if key == "" {
		return id
	}
	return key
}

// sampleTask reads a task as Reten lists it: a JSON object with a string id.
func sampleTask(raw []byte) (schema.Task, error) {
	var probe struct {
		ID *string `json:"id"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return schema.Task{}, fmt.Errorf("not a JSON object: %w", err)
	}
	if probe.ID == nil || *probe.ID == "" {
		return schema.Task{}, fmt.Errorf("the task has no \"id\"")
	}
	return schema.Task{ID: *probe.ID, Raw: json.RawMessage(raw)}, nil
}
