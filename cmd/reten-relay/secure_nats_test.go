package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/reten/reten-relay/relay/relaytest"
)

// natsSecureResults is the results section; each run has its own durable, so that a
// pull request a stopped relay left on the server does not take the next run's messages.
const natsSecureResults = `results:
  source: nats
  subject: reten.results.>
  durable: %s
  dead_letter: reten.dlq.results
  ack_wait: 2s
  backoff: {initial: 10ms, max: 200ms, max_elapsed: 10m}
`

// startSecureNATS starts a nats-server with JetStream and TLS from pki; mutate adds auth.
func startSecureNATS(t *testing.T, pki *relaytest.PKI, mutate func(*server.Options)) (*server.Server, string) {
	t.Helper()
	o := &server.Options{JetStream: true, StoreDir: t.TempDir(), TLS: true, TLSConfig: pki.ServerTLS(false), TLSTimeout: 2}
	mutate(o)
	srv := relaytest.StartNATSServer(t, o)
	return srv, fmt.Sprintf("tls://127.0.0.1:%d", srv.Addr().(*net.TCPAddr).Port)
}

func userSeed(t *testing.T) (seed, pub string) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	s, _ := kp.Seed()
	p, _ := kp.PublicKey()
	return string(s), p
}

// operatorMode makes an operator, a system account and a JetStream-enabled account, and
// returns the server settings and a function that writes a creds file for a new user of
// that account (or, with a stranger account, of one the server does not know).
func operatorMode(t *testing.T) (func(*server.Options), func(name string, stranger bool) (path string, secrets []string)) {
	t.Helper()
	okp, _ := nkeys.CreateOperator()
	opub, _ := okp.PublicKey()
	sys, _ := nkeys.CreateAccount()
	sysPub, _ := sys.PublicKey()
	acc, _ := nkeys.CreateAccount()
	accPub, _ := acc.PublicKey()
	oc := jwt.NewOperatorClaims(opub)
	oc.Name, oc.SystemAccount = "test-operator", sysPub
	sc := jwt.NewAccountClaims(sysPub)
	sc.Name = "SYS"
	sysJWT, err := sc.Encode(okp)
	if err != nil {
		t.Fatal(err)
	}
	ac := jwt.NewAccountClaims(accPub)
	ac.Name = "RELAY"
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	accJWT, err := ac.Encode(okp)
	if err != nil {
		t.Fatal(err)
	}
	res := &server.MemAccResolver{}
	_ = res.Store(sysPub, sysJWT)
	_ = res.Store(accPub, accJWT)
	mutate := func(o *server.Options) {
		o.TrustedOperators, o.AccountResolver, o.SystemAccount = []*jwt.OperatorClaims{oc}, res, sysPub
	}
	creds := func(name string, stranger bool) (string, []string) {
		signer := acc
		if stranger {
			signer, _ = nkeys.CreateAccount()
		}
		seed, pub := userSeed(t)
		uc := jwt.NewUserClaims(pub)
		uc.Name = name
		ujwt, err := uc.Encode(signer)
		if err != nil {
			t.Fatal(err)
		}
		data, err := jwt.FormatUserConfig(ujwt, []byte(seed))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), name+".creds")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p, []string{seed, ujwt}
	}
	return mutate, creds
}

// TestSecure_NATS runs the relay against nats-servers that require TLS and each
// authentication method: events and results flow, `check` says how it connected, a wrong
// secret stops `run` at once with a message naming the server and the failure, and no
// secret appears in anything the relay said.
func TestSecure_NATS(t *testing.T) {
	// Parallel: the secure tests mostly wait on brokers and a subprocess.
	t.Parallel()
	pki := relaytest.NewPKI(t)
	const password, wrongPassword = "pw-CANARY-nats-8f3a", "pw-CANARY-wrong-77b1"
	const token, wrongToken = "tok-CANARY-nats-c0ffee", "tok-CANARY-wrong-beef"
	nkeySeed, nkeyPub := userSeed(t)
	strangerSeed, _ := userSeed(t)
	var mtlsOpts *server.Options
	mtlsSrv, mtls := startSecureNATS(t, pki, func(o *server.Options) {
		mtlsOpts = o
		o.TLSConfig, o.TLSVerify = pki.ServerTLS(true), true
		o.Users = []*server.User{{Username: "relay", Password: password}}
		o.Nkeys = []*server.NkeyUser{{Nkey: nkeyPub}}
	})
	_, tokenURL := startSecureNATS(t, pki, func(o *server.Options) { o.Authorization = token })
	opMode, creds := operatorMode(t)
	_, opURL := startSecureNATS(t, pki, opMode)
	credsPath, credsSecrets := creds("relay-user", false)
	strangerPath, strangerSecrets := creds("stranger", true)

	clientTLS := fmt.Sprintf("tls: {ca: %q, cert: %q, key: %q}", pki.CAFile, pki.ClientCert, pki.ClientKey)
	serverTLS := fmt.Sprintf("tls: {ca: %q}", pki.CAFile)
	tests := []struct {
		name, url, auth, tls, wrongAuth, who string
		secrets                              []string
	}{
		{"user and password over mutual TLS", mtls, "user: relay\n  password: " + password, clientTLS,
			"user: relay\n  password: " + wrongPassword, "authenticated as relay", []string{password, wrongPassword}},
		{"nkey over mutual TLS", mtls, "nkey_seed: " + nkeySeed, clientTLS,
			"nkey_seed: " + strangerSeed, "authenticated as " + nkeyPub, []string{nkeySeed, strangerSeed}},
		{"token", tokenURL, "token: " + token, serverTLS, "token: " + wrongToken, "TLS 1.3", []string{token, wrongToken}},
		{"creds of an operator-signed account", opURL, fmt.Sprintf("creds: %q", credsPath), serverTLS,
			fmt.Sprintf("creds: %q", strangerPath), "authenticated as relay-user", append(credsSecrets, strangerSecrets...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSecureRun(t)
			section := func(auth, tls string) string {
				return fmt.Sprintf("nats:\n  url: %s\n  %s\n  %s\n", tc.url, auth, tls)
			}
			path := s.configFile("relay", section(tc.auth, tc.tls), `[{name: all, sink: nats, subject: "reten.tasks.{op}.{channel}"}]`,
				fmt.Sprintf(natsSecureResults, strings.ReplaceAll(tc.name, " ", "-")))
			natsFlow(t, s, path)
			s.replayOne(path)
			code, out := s.check(path)
			if code != exitOK || !strings.Contains(out, "TLS 1.3") || !strings.Contains(out, tc.who) {
				t.Errorf("check exited %d; want 0 and a line with TLS 1.3 and %q:\n%s", code, tc.who, out)
			}
			wrong := s.configFile("wrong", section(tc.wrongAuth, tc.tls), `[{name: all, sink: nats, subject: "x.{op}"}]`, "")
			s.runFails(wrong, "nats "+tc.url+": authentication failed")
			s.checkFails(wrong, "nats "+tc.url+": authentication failed")
			s.noSecrets(tc.secrets, "reten.tasks.created", "reten.dlq.results", "reten_relay_results_total", "authentication failed")
		})
	}
	t.Run("an untrusted server certificate stops run", func(t *testing.T) {
		s := newSecureRun(t)
		path := s.configFile("relay", fmt.Sprintf("nats: {url: %s, token: %s}", tokenURL, token), `[{name: all, sink: nats, subject: "x.{op}"}]`, "")
		s.runFails(path, "nats "+tokenURL, "not signed by a trusted CA; set nats.tls.ca")
		s.noSecrets([]string{token})
	})
	t.Run("a server that demands a client certificate stops run without one", func(t *testing.T) {
		s := newSecureRun(t)
		path := s.configFile("relay", fmt.Sprintf("nats: {url: %s, user: relay, password: %s, %s}", mtls, password, serverTLS),
			`[{name: all, sink: nats, subject: "x.{op}"}]`, "")
		s.runFails(path, "nats "+mtls, "does it need a client certificate (nats.tls.cert and .key)?")
		s.noSecrets([]string{password})
	})
	t.Run("a password changed on the server while running turns readyz red with the reason, and green once it is back", func(t *testing.T) {
		s := newSecureRun(t)
		path := s.configFile("relay", fmt.Sprintf("nats:\n  url: %s\n  user: relay\n  password: %s\n  %s\n", mtls, password, clientTLS),
			`[{name: all, sink: nats, subject: "reten.tasks.{op}.{channel}"}]`, "")
		base, stop := s.start(path)
		relaytest.WaitFor(t, e2eWait, "readyz 200", func() bool { code, _ := get(base + "/readyz"); return code == 200 })
		o := mtlsOpts.Clone()
		o.Users = []*server.User{{Username: "relay", Password: wrongPassword}}
		if err := mtlsSrv.ReloadOptions(o); err != nil {
			t.Fatal(err)
		}
		relaytest.WaitFor(t, e2eWait, "readyz red naming the failure", func() bool {
			code, body := get(base + "/readyz")
			return code == 503 && strings.Contains(body, "authentication failed")
		})
		// The operator puts the password back: the relay reconnects without a restart
		// (nats.go would give up after two authorization failures in a row by itself).
		if err := mtlsSrv.ReloadOptions(mtlsOpts.Clone()); err != nil {
			t.Fatal(err)
		}
		relaytest.WaitFor(t, e2eWait, "readyz green again", func() bool { code, _ := get(base + "/readyz"); return code == 200 })
		stop()
		s.noSecrets([]string{password, wrongPassword}, "authorization violation")
	})
}

// natsFlow runs the relay from path: every task becomes a created event, three results
// reach Reten and a broken one becomes a dead letter. A client with the relay's own
// credentials watches every subject and writes what it sees into s.out.
func natsFlow(t *testing.T, s *secureRun, path string) {
	t.Helper()
	cfg := s.load(path)
	opts, err := natsSecurity(cfg.NATS)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(cfg.NATS.URL, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var created, dead atomic.Int32
	if _, err := nc.Subscribe(">", func(m *nats.Msg) {
		fmt.Fprintf(&s.out, "%s %v %s\n", m.Subject, m.Header, m.Data)
		switch {
		case strings.HasPrefix(m.Subject, "reten.tasks.created."):
			created.Add(1)
		case m.Subject == "reten.dlq.results":
			dead.Add(1)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	base, stop := s.start(path)
	defer stop()
	relaytest.WaitFor(t, e2eWait, "a created event per task", func() bool { return created.Load() >= secureTasks })
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	for _, task := range s.sim.Tasks()[:3] {
		if _, err := js.Publish(ctx, "reten.results.secure", resultBody(task)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := js.Publish(ctx, "reten.results.secure", []byte(`{"broken":`)); err != nil {
		t.Fatal(err)
	}
	s.waitResults(3)
	relaytest.WaitFor(t, e2eWait, "a dead letter", func() bool { return dead.Load() >= 1 })
	relaytest.WaitFor(t, e2eWait, "readyz 200", func() bool { code, _ := get(base + "/readyz"); return code == 200 })
}
