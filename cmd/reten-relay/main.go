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
	"strings"
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

// run dispatches a subcommand and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, generalUsage())
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
		if code, ok := parseNoArgs(newFlags("version"), rest, stdout, stderr); !ok {
			return code
		}
		fmt.Fprintln(stdout, versionString())
		return exitOK
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 && cmd == "help" {
			if _, ok := lookupCommand(strings.Join(rest, " ")); ok {
				return run(ctx, append(rest, "-h"), stdout, stderr, getenv)
			}
			fmt.Fprintf(stderr, "reten-relay help: unknown command %q\n\n%s", strings.Join(rest, " "), generalUsage())
			return exitUsage
		}
		fmt.Fprint(stdout, generalUsage())
		return exitOK
	default:
		fmt.Fprintf(stderr, "reten-relay: unknown command %q\n\n%s", cmd, generalUsage())
		return exitUsage
	}
}
