package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// command describes a subcommand for the general help, its own -h and the README's table
// (a test keeps the README in step with this list).
type command struct {
	// name is what follows "reten-relay": "run", "dlq replay".
	name string
	// args is the synopsis after the name.
	args string
	// purpose is one sentence.
	purpose string
	// env lists the environment variables the command reads.
	env []string
	// example is one command line.
	example string
}

// configEnv are the variables the shipped config.yaml reads through ${VAR}.
var configEnv = []string{"RETEN_URL", "RETEN_API_KEY", "NATS_URL", "NATS_EMBEDDED_PORT", "KAFKA_BROKERS", "RETEN_DISPATCH_KEY"}

// commands lists every subcommand, in the order the help shows them.
func commands() []command {
	return []command{
		{"run", "[-config config.yaml]", "Run the pipelines the config enables until SIGINT/SIGTERM, then drain in-flight work and exit 0.",
			configEnv, "RETEN_URL=prod RETEN_API_KEY=rtn_sk_... reten-relay run -config config.yaml"},
		{"demo", "[-duration 30s] [-tasks 300] [-interval 2s] [-config config.yaml] [-v]", "Zero-setup tour: embedded NATS with JetStream, the Reten simulator with changing tasks, both pipelines and a sample worker.",
			nil, "reten-relay demo -duration 1m"},
		{"sim", "[-listen 127.0.0.1:3000] [-tasks 200] [-churn 5s] [-churn-n 3] [-seed 1]", "Run the Reten simulator alone, to develop against (prints its URL and API key).",
			nil, "reten-relay sim -listen 127.0.0.1:3000 -tasks 1000"},
		{"check", "[-config config.yaml] [-timeout 10s]", "Validate the config, then try the brokers (TLS version, whom they authenticated; JetStream, and per NATS subject the stream that captures it or that run will create) and the Reten key (which permissions work); exit 0 when all pass.",
			configEnv, "reten-relay check -config config.yaml"},
		{"routes", "[-config config.yaml] [-op created] task.json", "Explain which routes, subjects/topics and key a sample task (JSON as Reten lists it) gets, and why other routes do not match.",
			configEnv, "reten-relay routes task.json -op updated"},
		{"dlq ls", "[-config config.yaml] [-reason R] [-limit N]", "List the dead letters of the results pipeline: position, time, reason, task, HTTP status and error.",
			configEnv, "reten-relay dlq ls -reason rejected"},
		{"dlq show", "[-config config.yaml] SEQ|PARTITION:OFFSET", "Print one dead letter in full (the position is what `dlq ls` shows).",
			configEnv, "reten-relay dlq show 42"},
		{"dlq replay", "[-config config.yaml] [-reason R] [-limit N] [-rate 50] [-dry-run]", "Re-publish dead letters to the results input, rate-limited, and say which; what was re-published is removed from the dead letters (Kafka: remembered in a replay group).",
			configEnv, "reten-relay dlq replay -reason retries_exhausted -dry-run"},
		{"healthcheck", "[-url URL] [-timeout 3s]", "Probe a running relay's /healthz; exit 0 when healthy (the container image's health check).",
			nil, "reten-relay healthcheck -url http://127.0.0.1:8080/healthz"},
		{"version", "", "Print the version, VCS revision and Go version.", nil, "reten-relay version"},
	}
}

// lookupCommand returns the description of name.
func lookupCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// generalUsage is what `reten-relay`, `-h` and `help` print.
func generalUsage() string {
	var b strings.Builder
	b.WriteString("reten-relay relays Reten tasks to NATS/Kafka as events, and results back to Reten.\n\nUsage:\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "  reten-relay %-12s %s\n", c.name, c.args)
		fmt.Fprintf(&b, "      %s\n", c.purpose)
	}
	b.WriteString("\n`reten-relay help COMMAND` or `reten-relay COMMAND -h` shows a command's flags and an example.\n")
	b.WriteString("Exit codes: 0 success, 1 runtime failure, 2 bad usage or bad config.\n")
	return b.String()
}

// newFlags returns the flag set of the named command. Parse it with parseFlags.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {} // parseFlags prints help itself, to stdout for -h
	return fs
}

// parseFlags parses args, accepting flags before and after positional arguments
// (`routes task.json -op created`). It returns the positional arguments. When it returns
// ok false the command must exit with code: 0 after -h (help printed to stdout), 2 after a
// bad flag (the problem and a hint printed to stderr).
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (positional []string, code int, ok bool) {
	fs.SetOutput(io.Discard)
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			printCommandHelp(stdout, fs)
			return nil, exitOK, false
		}
		if err != nil {
			fmt.Fprintf(stderr, "reten-relay %s: %v\nRun `reten-relay %s -h` for its flags.\n", fs.Name(), err, fs.Name())
			return nil, exitUsage, false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, exitOK, true
		}
		if i := len(args) - len(rest) - 1; i >= 0 && args[i] == "--" {
			return append(positional, rest...), exitOK, true
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// printCommandHelp writes the command's purpose, synopsis, flags, environment and example.
func printCommandHelp(w io.Writer, fs *flag.FlagSet) {
	c, _ := lookupCommand(fs.Name())
	fmt.Fprintf(w, "%s\n\nUsage:\n  reten-relay %s %s\n", c.purpose, c.name, c.args)
	var flags strings.Builder
	fs.SetOutput(&flags)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	if flags.Len() > 0 {
		fmt.Fprintf(w, "\nFlags:\n%s", flags.String())
	}
	if len(c.env) > 0 {
		fmt.Fprintf(w, "\nEnvironment (read by the shipped config.yaml through ${VAR}):\n  %s\n", strings.Join(c.env, " "))
	}
	if c.example != "" {
		fmt.Fprintf(w, "\nExample:\n  %s\n", c.example)
	}
}

// parseNoArgs is parseFlags for commands that take no positional argument.
func parseNoArgs(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (code int, ok bool) {
	pos, code, ok := parseFlags(fs, args, stdout, stderr)
	if ok && len(pos) > 0 {
		fmt.Fprintf(stderr, "reten-relay %s: unexpected argument %q\nRun `reten-relay %s -h` for its usage.\n", fs.Name(), pos[0], fs.Name())
		return exitUsage, false
	}
	return code, ok
}

// commandTable is the README's table of commands, generated from commands().
func commandTable() string {
	var b strings.Builder
	b.WriteString("| command | does |\n|---|---|\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "| `%s` | %s |\n", strings.TrimSpace("reten-relay "+c.name+" "+c.args), c.purpose)
	}
	return b.String()
}
