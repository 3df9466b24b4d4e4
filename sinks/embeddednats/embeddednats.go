// Package embeddednats starts an in-process NATS server with JetStream, for `run` and
// `demo` with nats.url "embedded", and for tests.
package embeddednats

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options configure the embedded server.
type Options struct {
	// Host to listen on. Default: 127.0.0.1 (never all interfaces by accident).
	Host string
	// Port to listen on; -1 picks a free one. Default: -1.
	Port int
	// StoreDir is the JetStream store directory. Required.
	StoreDir string
	// SyncAlways fsyncs every JetStream write before acknowledging it. The relay's guarantee
	// is the broker's: an ack that was not fsynced can be lost on power failure, so run and
	// demo turn this on.
	SyncAlways bool
}

// ErrPortInUse is returned by Start when something already listens on Options.Port.
var ErrPortInUse = errors.New("embedded nats: port already in use")

// Server is a running embedded NATS server.
type Server struct {
	srv *server.Server
}

// Start starts a server and waits until it accepts connections.
func Start(opts Options) (*Server, error) {
	if opts.StoreDir == "" {
		return nil, errors.New("embedded nats: StoreDir is required")
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if opts.Port == 0 {
		opts.Port = -1
	}
	if opts.Port > 0 {
		// nats-server would only log the failed listen and never become ready: say it now.
		addr := net.JoinHostPort(opts.Host, strconv.Itoa(opts.Port))
		l, err := net.Listen("tcp", addr)
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("%w: %s", ErrPortInUse, addr)
		}
		if err != nil {
			return nil, fmt.Errorf("embedded nats: listen on %s: %w", addr, err)
		}
		_ = l.Close()
	}
	srv, err := server.NewServer(&server.Options{
		Host:       opts.Host,
		Port:       opts.Port,
		JetStream:  true,
		StoreDir:   opts.StoreDir,
		SyncAlways: opts.SyncAlways,
		NoLog:      true,
		NoSigs:     true,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("embedded nats: not ready after 10s")
	}
	return &Server{srv: srv}, nil
}

// URL is the client URL, e.g. nats://127.0.0.1:41234.
func (s *Server) URL() string { return s.srv.ClientURL() }

// Port is the port the server listens on.
func (s *Server) Port() int { return s.srv.Addr().(*net.TCPAddr).Port }

// Shutdown stops the server and waits until it has stopped.
func (s *Server) Shutdown() {
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
}
