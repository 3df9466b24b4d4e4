package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/rs/zerolog"
)

// pprofEnv names the environment variable that, set to an address (127.0.0.1:6060), makes
// `run` serve Go's profiles there (/debug/pprof/...). It is for measuring the relay under a
// load it cannot be given in-process (the shared benchmark runs it as a subprocess and stops
// it with SIGKILL, so a profile written at exit would never be written). The profiles
// listen on their own address, never on http.listen: they show internals an operator's
// scrape port should not.
const pprofEnv = "RETEN_RELAY_PPROF"

// serveProfiles serves the profiles on the address in RETEN_RELAY_PPROF until ctx is done; it
// does nothing when the variable is unset. A listener that fails is logged, not fatal.
func serveProfiles(ctx context.Context, getenv env, log zerolog.Logger) {
	addr, ok := getenv(pprofEnv)
	if !ok || addr == "" {
		return
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Warn().Err(err).Msg(pprofEnv + ": cannot listen; no profiles")
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn().Err(err).Msg(pprofEnv + ": profiles stopped")
		}
	}()
	log.Warn().Str("addr", ln.Addr().String()).Msg(pprofEnv + ": serving Go profiles at /debug/pprof/ (for measurement only)")
}
