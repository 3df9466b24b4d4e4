package natsresults_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/reten/reten-relay/relay"
	"github.com/reten/reten-relay/relay/relaytest"
	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/sources/natsresults"
)

var _ relay.ResultSource = (*natsresults.Source)(nil)

// setup starts a NATS server and connects to it the way the relay does: reconnecting forever.
func setup(t *testing.T) (*relaytest.NATS, *nats.Conn, jetstream.JetStream, context.Context) {
	t.Helper()
	n := relaytest.StartNATS(t)
	nc, err := nats.Connect(n.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return n, nc, js, ctx
}

func newSource(t *testing.T, ctx context.Context, nc *nats.Conn, cfg natsresults.Config) *natsresults.Source {
	t.Helper()
	if cfg.Subjects == nil {
		cfg.Subjects = []string{"reten.results.>"}
	}
	s, err := natsresults.New(ctx, nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func publish(t *testing.T, ctx context.Context, js jetstream.JetStream, subject, body string) {
	t.Helper()
	if _, err := js.Publish(ctx, subject, []byte(body)); err != nil {
		t.Fatal(err)
	}
}

func receive(t *testing.T, ctx context.Context, s *natsresults.Source) schema.Received {
	t.Helper()
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	m, err := s.Receive(rctx)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	return m
}

// restart stops and starts the server and waits until nc has reconnected. IsConnected alone
// is not enough: right after the stop the client may not have noticed yet, and what it
// writes then is lost with the old socket.
func restart(t *testing.T, n *relaytest.NATS, nc *nats.Conn) {
	t.Helper()
	before := nc.Stats().Reconnects
	n.Stop()
	n.Start()
	relaytest.WaitFor(t, 10*time.Second, "the client to reconnect", func() bool {
		return nc.Stats().Reconnects > before && nc.IsConnected()
	})
}

func consumerInfo(t *testing.T, ctx context.Context, js jetstream.JetStream, stream, durable string) *jetstream.ConsumerInfo {
	t.Helper()
	c, err := js.Consumer(ctx, stream, durable)
	if err != nil {
		t.Fatal(err)
	}
	ci, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return ci
}

// link is a TCP relay between a client and a NATS server that can lose what is written
// to it, as a network that fails does: blackhole swallows everything from then on without
// closing anything, cut closes every connection and lets new ones through again.
type link struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	holes  bool
	lost   int
}

func startLink(t *testing.T, natsURL string) *link {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &link{ln: ln, target: strings.TrimPrefix(natsURL, "nats://")}
	t.Cleanup(func() { ln.Close(); l.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", l.target)
			if err != nil {
				c.Close()
				continue
			}
			l.mu.Lock()
			l.conns = append(l.conns, c, s)
			l.mu.Unlock()
			go l.pipe(c, s)
			go l.pipe(s, c)
		}
	}()
	return l
}

func (l *link) URL() string { return "nats://" + l.ln.Addr().String() }

func (l *link) pipe(from, to net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := from.Read(buf)
		if err != nil {
			from.Close()
			to.Close()
			return
		}
		l.mu.Lock()
		hole := l.holes
		if hole {
			l.lost += n
		}
		l.mu.Unlock()
		if !hole {
			if _, err := to.Write(buf[:n]); err != nil {
				return
			}
		}
	}
}

func (l *link) blackhole() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.holes = true
}

func (l *link) swallowed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost
}

func (l *link) cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
	l.conns, l.holes = nil, false
}
