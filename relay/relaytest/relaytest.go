// Package relaytest starts real brokers for tests: an embedded NATS server with JetStream
// and an in-process Kafka cluster (kfake) that the real kafka-go client talks to. Each is
// stopped by t.Cleanup. There are no mocks here.
package relaytest

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/reten/reten-relay/sinks/embeddednats"
)

// NATS is a running embedded NATS server that a test may stop and start again.
type NATS struct {
	t        testing.TB
	StoreDir string
	port     int
	srv      *embeddednats.Server
}

// StartNATS starts NATS with JetStream on a random loopback port and a temp store.
func StartNATS(t testing.TB) *NATS {
	t.Helper()
	n := &NATS{t: t, StoreDir: t.TempDir(), port: -1}
	n.Start()
	t.Cleanup(n.Stop)
	return n
}

// URL is the client URL. It stays the same across Stop and Start.
func (n *NATS) URL() string { return "nats://127.0.0.1:" + strconv.Itoa(n.port) }

// Start (re)starts the server on the same port and store.
func (n *NATS) Start() {
	n.t.Helper()
	if n.srv != nil {
		return
	}
	srv, err := embeddednats.Start(embeddednats.Options{Port: n.port, StoreDir: n.StoreDir})
	if err != nil {
		n.t.Fatalf("start nats: %v", err)
	}
	n.srv = srv
	n.port = srv.Port()
}

// Stop shuts the server down; a later Start brings it back with the same data.
func (n *NATS) Stop() {
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv = nil
	}
}

// Kafka is a running in-process Kafka cluster.
type Kafka struct {
	Cluster *kfake.Cluster
}

// StartKafka starts a kfake cluster of one broker on a random loopback port. Extra kfake
// options (SeedTopics, DataDir, ...) are passed through.
func StartKafka(t testing.TB, opts ...kfake.Opt) *Kafka {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pick kafka port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.Ports(port), kfake.AllowAutoTopicCreation()}, opts...)...)
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return &Kafka{Cluster: c}
}

// Brokers are the bootstrap addresses.
func (k *Kafka) Brokers() []string { return k.Cluster.ListenAddrs() }

// WaitFor polls cond until it is true or the deadline passes, then fails the test with what.
// It is how tests synchronise: on a condition, never on a sleep.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// StartNATSServer starts a nats-server with the caller's options (TLS, auth, a config file
// read with server.ProcessConfigFile), on a random loopback port unless o says otherwise, and
// stops it at Cleanup. StartNATS is the plain case; this one is for tests of secured servers.
func StartNATSServer(t testing.TB, o *server.Options) *server.Server {
	t.Helper()
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.Port == 0 {
		o.Port = -1
	}
	o.NoLog, o.NoSigs = true, true
	srv, err := server.NewServer(o)
	if err != nil {
		t.Fatalf("start nats-server: %v", err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	return srv
}
