package main

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/sources/reten/retensim"
)

// httpsSim serves a simulator over TLS with pki's server certificate.
func httpsSim(t *testing.T, pki *relaytest.PKI) (*retensim.Sim, *httptest.Server) {
	t.Helper()
	sim := retensim.New(t, retensim.WithTasks(secureTasks))
	srv := httptest.NewUnstartedServer(sim.Handler())
	srv.TLS = pki.ServerTLS(false)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted case's handshake errors
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return sim, srv
}

// TestSecure_RetenTrustsTheConfiguredCA: with reten.tls.ca, check reaches a Reten whose
// certificate a private CA signed; without it, check fails naming the certificate.
func TestSecure_RetenTrustsTheConfiguredCA(t *testing.T) {
	pki := relaytest.NewPKI(t)
	sim, srv := httpsSim(t, pki)
	s := &secureRun{t: t, sim: sim, dir: t.TempDir()}
	write := func(name, tls string) string {
		p := s.dir + "/" + name + ".yaml"
		doc := fmt.Sprintf("reten: {url: %q, api_key: %q, timeout: 2s%s}\n", srv.URL, sim.APIKey(), tls)
		if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if code, out := s.check(write("trusted", fmt.Sprintf(", tls: {ca: %q}", pki.CAFile))); code != exitOK || !strings.Contains(out, "key accepted") {
		t.Errorf("check with reten.tls.ca exited %d:\n%s", code, out)
	}
	if code, out := s.check(write("untrusted", "")); code != exitFailure || !strings.Contains(out, "certificate signed by unknown authority") {
		t.Errorf("check without reten.tls.ca exited %d, want 1 naming the certificate:\n%s", code, out)
	}
}

// TestSecure_RetenThroughHTTPSProxy runs the relay as a real process (the proxy settings
// are read once per process) with HTTPS_PROXY set: it lists Reten's tasks through the
// proxy's CONNECT tunnel; with NO_PROXY naming Reten's host it does not use the proxy.
func TestSecure_RetenThroughHTTPSProxy(t *testing.T) {
	// Parallel: the secure tests mostly wait on brokers and a subprocess.
	t.Parallel()
	pki := relaytest.NewPKI(t)
	sim, srv := httpsSim(t, pki)
	simAddr := srv.Listener.Addr().String()
	var connects atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		connects.Add(1)
		// reten.test resolves nowhere: the tunnel goes to the simulator.
		up, err := net.Dial("tcp", simAddr)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusOK)
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			_ = up.Close()
			return
		}
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); _, _ = io.Copy(up, rw); _ = up.Close() }()
		go func() { defer wg.Done(); _, _ = io.Copy(conn, up); _ = conn.Close() }()
		wg.Wait()
	}))
	t.Cleanup(proxy.Close)

	nats := relaytest.StartNATS(t)
	_, port, _ := net.SplitHostPort(simAddr)
	dir := t.TempDir()
	path := dir + "/relay.yaml"
	doc := fmt.Sprintf(`reten: {url: "https://reten.test:%s", api_key: %q, timeout: 2s, tls: {ca: %q}}
nats: {url: %q}
tasks: {interval: 100ms, state: %q, routes: [{name: all, sink: nats, subject: "proxy.{op}"}]}
http: {listen: "127.0.0.1:0"}
`, port, sim.APIKey(), pki.CAFile, nats.URL(), dir+"/tasks.db")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	start := func(env ...string) *child { return startChild(t, path, "", env...) }
	t.Run("HTTPS_PROXY carries the requests", func(t *testing.T) {
		c := start("HTTPS_PROXY="+proxy.URL, "NO_PROXY=")
		relaytest.WaitFor(t, e2eWait, "a listing through the proxy", func() bool { return sim.Requests(retensim.EndpointListTasks) > 0 })
		c.kill()
		if connects.Load() == 0 {
			t.Errorf("Reten was reached without the proxy:\n%s", c.out.String())
		}
	})
	t.Run("NO_PROXY bypasses it", func(t *testing.T) {
		before := connects.Load()
		c := start("HTTPS_PROXY="+proxy.URL, "NO_PROXY=reten.test")
		c.waitFor(t, "a direct dial of reten.test failing", "reten.test")
		c.kill()
		if connects.Load() != before {
			t.Errorf("the proxy was used despite NO_PROXY:\n%s", c.out.String())
		}
	})
}
