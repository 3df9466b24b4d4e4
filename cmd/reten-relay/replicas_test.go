package main

import (
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
