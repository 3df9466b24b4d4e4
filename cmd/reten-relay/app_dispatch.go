package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/reten/reten-relay/relay"
	"github.com/reten/reten-relay/relay/config"
	"github.com/reten/reten-relay/relay/dispatch"
)

// routerHolder is the current router, shared by the poller's reloads and the receiver.
type routerHolder struct{ p atomic.Pointer[relay.Router] }

func (h *routerHolder) set(r relay.Router) { h.p.Store(&r) }
func (h *routerHolder) get() relay.Router  { return *h.p.Load() }

// Timeouts of the dispatch listener: Reten is a remote client on the internet, so a slow
// or stalled one must not hold a connection or a handler for long.
const (
	dispatchReadHeaderTimeout = 5 * time.Second
	dispatchReadTimeout       = 30 * time.Second
	dispatchWriteTimeout      = 30 * time.Second
	dispatchIdleTimeout       = 2 * time.Minute
)

// buildDispatch listens for Reten's pushes. The routes and sinks are the tasks section's.
func (a *app) buildDispatch(cfg *config.Config) error {
	dc := cfg.Dispatch
	if a.router == nil {
		router, err := cfg.Tasks.NewRouter()
		if err != nil {
			return fmt.Errorf("tasks.routes: %w", err)
		}
		a.router = &routerHolder{}
		a.router.set(router)
	}
	rcv, err := dispatch.New(dispatch.Config{
		Source:     a.eventSource(),
		APIKey:     dc.APIKey.Reveal(),
		MaxBody:    int64(dc.MaxBody),
		Router:     a.router.get,
		Sinks:      a.sinks,
		Logger:     a.log.With().Str("component", "dispatch").Logger(),
		Registerer: a.metrics.Registry,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", dc.Listen)
	if err != nil {
		return fmt.Errorf("dispatch.listen: %w", err)
	}
	a.onClose("dispatch listener", func(context.Context) error { return ln.Close() })
	if dc.TLS.Enabled() {
		cert, err := tls.LoadX509KeyPair(dc.TLS.Cert, dc.TLS.Key)
		if err != nil {
			return fmt.Errorf("dispatch.tls: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	mux := http.NewServeMux()
	mux.Handle(dc.Path, rcv)
	a.dispatchLn = ln
	a.dispatchSrv = &http.Server{
		Handler: mux, ReadHeaderTimeout: dispatchReadHeaderTimeout, ReadTimeout: dispatchReadTimeout,
		WriteTimeout: dispatchWriteTimeout, IdleTimeout: dispatchIdleTimeout,
	}
	return nil
}

// serveDispatch serves pushes until ctx is done, then lets in-flight pushes finish.
func (a *app) serveDispatch(ctx context.Context) error {
	if a.dispatchSrv == nil {
		return nil
	}
	scheme := "http"
	if a.cfg.Dispatch.TLS.Enabled() {
		scheme = "https"
	}
	a.log.Info().Str("url", scheme+"://"+a.dispatchLn.Addr().String()+a.cfg.Dispatch.Path).
		Msg("dispatch: receiving pushed activities")
	errc := make(chan error, 1)
	go func() { errc <- a.dispatchSrv.Serve(a.dispatchLn) }()
	select {
	case err := <-errc:
		return fmt.Errorf("dispatch: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), dispatchWriteTimeout)
	defer cancel()
	if err := a.dispatchSrv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("dispatch: shutdown: %w", err)
	}
	return nil
}
