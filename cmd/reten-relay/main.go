// Command reten-relay turns the Reten task integration API into events on NATS or Kafka, and
// result messages from NATS JetStream or Kafka back into Reten.
//
//	reten-relay run    [-config config.yaml]
//	reten-relay demo   [-duration 30s]
//	reten-relay sim    [-listen 127.0.0.1:3000]
//	reten-relay check  [-config config.yaml]
//	reten-relay routes [-config config.yaml] task.json
//	reten-relay dlq replay [-config config.yaml] [-limit N]
//	reten-relay version
//
// Exit codes: 0 success, 1 runtime failure, 2 bad usage or bad config.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes (design §3).
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv)
	stop()
	os.Exit(code)
}

// env looks up an environment variable; main passes os.LookupEnv, tests their own.
type env func(string) (string, bool)

const usage = `reten-relay relays Reten tasks to NATS/Kafka as events, and results back to Reten.

Usage:
  reten-relay run    [-config config.yaml]     run the pipelines the config enables
  reten-relay demo   [-duration 30s]           zero-setup tour: embedded NATS + simulator
  reten-relay sim    [-listen 127.0.0.1:3000]  run the Reten simulator alone
  reten-relay check  [-config config.yaml]     validate config, try brokers and the Reten key
  reten-relay routes [-config config.yaml] task.json
                                               explain which routes a sample task gets
  reten-relay dlq replay [-config config.yaml] [-limit N] [-rate 50]
                                               send dead letters back to the results input
  reten-relay healthcheck [-url URL]           probe a running relay's /healthz (for containers)
  reten-relay version                          version, commit, Go version
`

// run dispatches a subcommand and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return cmdRun(ctx, rest, stdout, stderr, getenv)
	case "demo":
		return cmdDemo(ctx, rest, stdout, stderr)
	case "sim":
		return cmdSim(ctx, rest, stdout, stderr)
	case "check":
		return cmdCheck(ctx, rest, stdout, stderr, getenv)
	case "routes":
		return cmdRoutes(rest, stdout, stderr, getenv)
	case "dlq":
		return cmdDLQ(ctx, rest, stdout, stderr, getenv)
	case "healthcheck":
		return cmdHealthcheck(ctx, rest, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, versionString())
		return exitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "reten-relay: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
}
