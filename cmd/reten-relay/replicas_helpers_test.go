package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/sources/reten/retensim"
)

// replicaLeaseTTL is the lease of the multi-process tests: short, so take-overs are quick.
const replicaLeaseTTL = 2 * time.Second

// replicas is a test of several relay processes sharing one nats-kv state.
type replicas struct {
	*e2e
	sub       *subscriber
	children  map[string]*child
	stopChurn context.CancelFunc

	mu      sync.Mutex
	polls   []poll         // every list request the simulator saw, in arrival order
	submits map[string]int // result POSTs by replica
}

// poll is one list request: when, and which replica asked (from its User-Agent).
type poll struct {
	at      time.Time
	replica string
}

// newReplicas starts n relay processes r1..rn with the same config but their name, on
// one embedded JetStream and the in-process simulator; extra is appended to the config.
func newReplicas(t *testing.T, n int, extra string, opts ...retensim.Option) *replicas {
	t.Helper()
	rs := &replicas{e2e: newE2E(t, opts...), children: map[string]*child{}, submits: map[string]int{}}
	rs.sim.OnRequest(func(ep retensim.Endpoint, r *http.Request) {
		_, name, _ := strings.Cut(r.UserAgent(), "replica/")
		rs.mu.Lock()
		defer rs.mu.Unlock()
		switch ep {
		case retensim.EndpointListTasks:
			rs.polls = append(rs.polls, poll{at: time.Now(), replica: name})
		case retensim.EndpointSubmit:
			rs.submits[name]++
		}
	})
	rs.sub = rs.subscribe()
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("r%d", i)
		yaml := strings.Replace(rs.configYAML(extra), fmt.Sprintf("state: %q", filepath.Join(rs.dir, "tasks.db")),
			fmt.Sprintf("state: nats-kv:RELAY_STATE\n  lease_ttl: %s\n  replica: %s", replicaLeaseTTL, name), 1)
		path := filepath.Join(rs.dir, name+".yaml")
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		rs.children[name] = startChild(t, path, "")
	}
	return rs
}

// churn changes 3 simulator tasks every 50ms until stopped.
func (rs *replicas) churn() {
	ctx, cancel := context.WithCancel(context.Background())
	rs.stopChurn = cancel
	rs.t.Cleanup(cancel)
	rs.sim.StartChurn(ctx, 50*time.Millisecond, 3)
}

// submitSplit is how many result POSTs each replica made.
func (rs *replicas) submitSplit() map[string]int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return maps.Clone(rs.submits)
}

func (rs *replicas) pollLog() []poll {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]poll(nil), rs.polls...)
}

// holder is the replica that asked last.
func (rs *replicas) holder() string {
	rs.t.Helper()
	var name string
	relaytest.WaitFor(rs.t, e2eWait, "a replica to poll", func() bool {
		p := rs.pollLog()
		if len(p) > 0 {
			name = p[len(p)-1].replica
		}
		return name != ""
	})
	return name
}

// pollsBy counts the list requests of replica since from.
func (rs *replicas) pollsBy(replica string, from time.Time) int {
	n := 0
	for _, p := range rs.pollLog() {
		if p.replica == replica && !p.at.Before(from) {
			n++
		}
	}
	return n
}

// takeOver waits for a replica other than old to poll after from, and returns it and
// how long after from its first request came.
func (rs *replicas) takeOver(old string, from time.Time) (string, time.Duration) {
	rs.t.Helper()
	var name string
	var d time.Duration
	relaytest.WaitFor(rs.t, e2eWait, "another replica to take over from "+old, func() bool {
		for _, p := range rs.pollLog() {
			if p.replica != old && p.at.After(from) {
				name, d = p.replica, p.at.Sub(from)
				return true
			}
		}
		return false
	})
	return name, d
}

// converge stops the churn and waits for the subscriber's task set to equal the
// simulator's.
func (rs *replicas) converge() {
	rs.t.Helper()
	rs.stopChurn()
	// Rebuilt from the stream, not from the core subscription: a publish already under way
	// when a holder froze may reach a core subscriber after a newer event, while JetStream
	// drops it as a duplicate (same id). Subscribers that need the guarantee read the stream.
	js, _ := rs.jsClient()
	relaytest.WaitFor(rs.t, 3*e2eWait, "the task set rebuilt from RETEN_TASKS to equal the simulator's", func() bool {
		set := map[string]string{}
		apply(set, streamEvents(rs.t, js, "RETEN_TASKS"))
		return sameTaskSets(rs.t, set, simSet(rs.t, rs.sim))
	})
}

// checkOnePoller fails when two replicas' list requests interleave: each replica's
// requests must form one run (a replica that hands over never polls again).
func (rs *replicas) checkOnePoller() []string {
	rs.t.Helper()
	var runs []string
	for _, p := range rs.pollLog() {
		if len(runs) == 0 || runs[len(runs)-1] != p.replica {
			runs = append(runs, p.replica)
		}
	}
	seen := map[string]bool{}
	for _, r := range runs {
		if seen[r] {
			rs.t.Errorf("replica %s polled again after another replica polled: runs %v", r, runs)
		}
		seen[r] = true
	}
	return runs
}

// checkChains fails when a task's events, each id counted once in arrival order, do not
// form one history: every update or delete must start from the task as the event before
// left it, and a create may only begin a history or follow a delete. A change published
// twice under different ids, or an event computed from a stale snapshot, breaks it.
func (rs *replicas) checkChains() (events, duplicates int) {
	rs.t.Helper()
	duplicates = rs.sub.checkIDs(rs.t)
	seen := map[string]bool{}
	last := map[string]schema.Event{}
	for _, ev := range rs.sub.snapshot() {
		if seen[ev.ID] {
			continue
		}
		seen[ev.ID] = true
		events++
		prev, ok := last[ev.Subject]
		last[ev.Subject] = ev
		switch {
		case ev.Data.Op == schema.OpCreated:
			if ok && prev.Data.Op != schema.OpDeleted {
				rs.t.Errorf("task %s: created again (event %s) after %s %s", ev.Subject, ev.ID, prev.Data.Op, prev.ID)
			}
		case !ok:
			rs.t.Errorf("task %s: history starts with %s (event %s)", ev.Subject, ev.Data.Op, ev.ID)
		case prev.Data.Op == schema.OpDeleted:
			rs.t.Errorf("task %s: %s (event %s) after its delete", ev.Subject, ev.Data.Op, ev.ID)
		case !jsonEqual(string(ev.Data.Previous), string(prev.Data.Task)):
			rs.t.Errorf("task %s: event %s (%s) does not start where event %s left the task", ev.Subject, ev.ID, ev.Data.Op, prev.ID)
		}
	}
	return events, duplicates
}

// stop and cont pause and resume a process (SIGSTOP, SIGCONT).
func (c *child) stop(t *testing.T) {
	if err := c.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
}

func (c *child) cont(t *testing.T) {
	if err := c.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
}

// readyz asks a child's /readyz.
func (c *child) readyz(t *testing.T) (int, map[string]any) {
	t.Helper()
	code, body := c.get(t, "/readyz")
	var m map[string]any
	_ = json.Unmarshal([]byte(body), &m)
	return code, m
}

// get asks a child's HTTP server (its address is in its log); 0 before it serves.
func (c *child) get(t *testing.T, path string) (int, string) {
	t.Helper()
	addr := ""
	for _, line := range strings.Split(c.out.String(), "\n") {
		var l struct {
			Message, Listen string
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Listen != "" && strings.HasPrefix(l.Message, "http: serving") {
			addr = l.Listen
		}
	}
	if addr == "" {
		return 0, ""
	}
	return get("http://" + addr + path)
}
