package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/sources/reten/retensim"
)

func TestReplicas_OnePollsAndAnotherTakesOverWhenItIsKilled(t *testing.T) {
	rs := newReplicas(t, 3, "", retensim.WithTasks(300))
	rs.churn()
	relaytest.WaitFor(t, e2eWait, "the first sync", func() bool { return len(rs.sub.taskSet()) >= 300 })
	old := rs.holder()
	for name, c := range rs.children {
		relaytest.WaitFor(t, e2eWait, name+" to be ready", func() bool {
			code, body := c.readyz(t)
			info, _ := body["info"].(map[string]any)
			return code == 200 && info["lease_holder"] == old
		})
	}
	killedAt := time.Now()
	rs.children[old].kill()
	next, took := rs.takeOver(old, killedAt)
	relaytest.WaitFor(t, e2eWait, next+" to poll under churn", func() bool { return rs.pollsBy(next, killedAt) >= 20 })
	for name, c := range rs.children {
		if name == old {
			continue
		}
		want := fmt.Sprintf(`reten_relay_lease_holder{replica=%q} 0`, name)
		if name == next {
			want = fmt.Sprintf(`reten_relay_lease_holder{replica=%q} 1`, name)
		}
		relaytest.WaitFor(t, e2eWait, name+"'s /metrics to say "+want, func() bool {
			_, body := c.get(t, "/metrics")
			return strings.Contains(body, want)
		})
	}
	rs.converge()
	events, dups := rs.checkChains()
	runs := rs.checkOnePoller()
	t.Logf("pollers in turn %v; %s took over %s after %s was killed (lease_ttl %s); %d events, %d re-published with their id",
		runs, next, took.Round(time.Millisecond), old, replicaLeaseTTL, events, dups)
}

func TestReplicas_APausedHolderPublishesNothingStale(t *testing.T) {
	rs := newReplicas(t, 3, "", retensim.WithTasks(300))
	rs.churn()
	relaytest.WaitFor(t, e2eWait, "the first sync", func() bool { return len(rs.sub.taskSet()) >= 300 })
	old := rs.holder()
	paused := rs.children[old]
	pausedAt := time.Now()
	paused.stop(t)
	next, took := rs.takeOver(old, pausedAt)
	relaytest.WaitFor(t, e2eWait, next+" to poll under churn", func() bool { return rs.pollsBy(next, pausedAt) >= 20 })
	resumedAt := time.Now()
	paused.cont(t)
	paused.waitFor(t, "the resumed replica to step down", "stepping down")
	steppedDown := time.Now()
	relaytest.WaitFor(t, e2eWait, next+" to poll on", func() bool { return rs.pollsBy(next, steppedDown) >= 10 })
	rs.converge()
	events, dups := rs.checkChains()
	if n := rs.pollsBy(old, resumedAt); n > 0 {
		t.Errorf("the resumed replica %s asked Reten for %d pages after it woke", old, n)
	}
	if n := strings.Count(paused.out.String(), "poller lease acquired"); n != 1 {
		t.Errorf("the paused replica took the lease %d times", n)
	}
	t.Logf("%s paused, %s took over after %s; %s resumed and stepped down; %d events, %d re-published with their id",
		old, next, took.Round(time.Millisecond), old, events, dups)
}

func TestReplicas_ResultsAreSharedByEveryReplica(t *testing.T) {
	rs := newReplicas(t, 3, resultsConfig("nats"), retensim.WithTasks(600), retensim.WithLatency(2*time.Millisecond))
	// Reten answers one POST in ten with 429: each replica's gate slows its own workers.
	rs.sim.SetFailureRate(retensim.EndpointSubmit, 0.1, retensim.Fault429("0"))
	r := &resultsE2E{e2e: rs.e2e, source: "nats"}
	r.subscribeDeadLetters(t)
	relaytest.WaitFor(t, e2eWait, "the relays to create the results stream", func() bool {
		_, err := r.js.StreamNameBySubject(context.Background(), "reten.results.e2e")
		return err == nil
	})
	for name, c := range rs.children {
		relaytest.WaitFor(t, e2eWait, name+" to consume", func() bool {
			code, _ := c.readyz(t)
			return code == 200
		})
	}
	tasks := rs.sim.Tasks()
	var bodies [][]byte
	for _, task := range tasks {
		bodies = append(bodies, resultBody(task))
	}
	r.produce(t, bodies...)
	relaytest.WaitFor(t, e2eWait, "every result delivered", func() bool { return delivered(rs.sim, tasks) })
	if n := len(r.deadLetters()); n != 0 {
		t.Fatalf("%d dead letters", n)
	}
	split := rs.submitSplit()
	for name := range rs.children {
		if split[name] == 0 {
			t.Errorf("replica %s submitted nothing: %v", name, split)
		}
	}
	t.Logf("%d results delivered; POSTs per replica %v (429s: %d, 409s for duplicates: %d)", len(tasks), split,
		rs.sim.Responses(retensim.EndpointSubmit, 429), rs.sim.Responses(retensim.EndpointSubmit, 409))
}

func TestReplicas_ASecondRelayOnTheSameStateFileRefusesToStart(t *testing.T) {
	e := newE2E(t, retensim.WithTasks(10))
	path := e.configFile("")
	first := startChild(t, path, "")
	first.waitFor(t, "the first relay to load its state", "tasks state loaded")
	second := startChild(t, path, "")
	// Read the refusal before Wait, which closes the output pipe.
	second.waitFor(t, "the second relay to refuse", "is another reten-relay running with the same tasks.state?")
	if err := second.cmd.Wait(); err == nil || second.cmd.ProcessState.ExitCode() != exitFailure {
		t.Fatalf("second relay: %v, want exit %d", err, exitFailure)
	}
}

func TestReplicas_ARevokedKeyPausesEveryReplicaAndAllResume(t *testing.T) {
	rs := newReplicas(t, 3, resultsConfig("nats"), retensim.WithTasks(60))
	r := &resultsE2E{e2e: rs.e2e, source: "nats"}
	r.subscribeDeadLetters(t)
	for name, c := range rs.children {
		relaytest.WaitFor(t, e2eWait, name+" to be ready", func() bool { code, _ := c.readyz(t); return code == 200 })
	}
	rs.sim.RevokeKey(rs.sim.APIKey())
	tasks := rs.sim.Tasks()
	var bodies [][]byte
	for _, task := range tasks {
		bodies = append(bodies, resultBody(task))
	}
	r.produce(t, bodies...)
	// Each replica learns of the 401 from its own POSTs (messages a paused replica does
	// not settle are redelivered to the others after ack_wait) and pauses by itself.
	for name, c := range rs.children {
		relaytest.WaitFor(t, e2eWait, name+" to pause naming the key", func() bool {
			code, body := c.readyz(t)
			failing := fmt.Sprint(body["failing"])
			return code == 503 && strings.Contains(failing, "results.submitter")
		})
	}
	if len(r.deadLetters()) != 0 || len(rs.sim.Results()) != 0 {
		t.Fatalf("during the auth failure: %d dead letters, %d results", len(r.deadLetters()), len(rs.sim.Results()))
	}
	during := rs.submitSplit()
	rs.sim.RestoreKey(rs.sim.APIKey())
	relaytest.WaitFor(t, e2eWait, "every result delivered after the key works again", func() bool { return delivered(rs.sim, tasks) })
	for name, c := range rs.children {
		relaytest.WaitFor(t, e2eWait, name+" to be ready again", func() bool { code, _ := c.readyz(t); return code == 200 })
	}
	if n := len(r.deadLetters()); n != 0 {
		t.Fatalf("%d dead letters", n)
	}
	t.Logf("POSTs per replica while the key was revoked (probes, no storm): %v; after: %v", during, rs.submitSplit())
}

func TestReplicas_KilledAtACrashPointTheNextHolderLosesNothing(t *testing.T) {
	for _, crashAt := range []string{"after-commit:1", "after-publish:1"} {
		t.Run(crashAt, func(t *testing.T) {
			e := newE2E(t, retensim.WithTasks(300))
			sub := e.subscribe()
			yaml := strings.Replace(e.configYAML(""), fmt.Sprintf("state: %q", filepath.Join(e.dir, "tasks.db")),
				fmt.Sprintf("state: nats-kv:RELAY_STATE\n  lease_ttl: %s", replicaLeaseTTL), 1)
			path := filepath.Join(e.dir, "kv.yaml")
			if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			first := startChild(t, path, crashAt)
			first.waitFor(t, "the crash point", "CRASHPOINT")
			first.kill()
			e.sim.Churn(20)         // the world moves on while nobody polls
			startChild(t, path, "") // takes the lease once the dead one's expires
			relaytest.WaitFor(t, e2eWait, "the subscriber's task set to equal the simulator's", func() bool {
				return sameTaskSets(t, sub.taskSet(), simSet(t, e.sim))
			})
			t.Logf("%d events, %d re-published with their original id", len(sub.snapshot()), sub.checkIDs(t))
		})
	}
}
