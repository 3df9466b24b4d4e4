package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/reten/reten-relay/relay/config"
	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/sources/kafkaresults"
	"github.com/reten/reten-relay/sources/natsresults"
)

// dlqUsage is what a `dlq` without a known subcommand prints.
const dlqUsage = "usage: reten-relay dlq ls|show|replay ...\nRun `reten-relay dlq ls -h` (or show, replay) for more."

// cmdDLQ is `dlq ls`, `dlq show` and `dlq replay`: the dead letters of the results pipeline.
func cmdDLQ(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		fmt.Fprintln(stdout, dlqUsage)
		return exitOK
	}
	if len(args) == 0 {
		fmt.Fprintln(stderr, dlqUsage)
		return exitUsage
	}
	d := &dlqCmd{stdout: stdout, stderr: stderr, getenv: getenv}
	switch args[0] {
	case "ls":
		return d.ls(ctx, args[1:])
	case "show":
		return d.show(ctx, args[1:])
	case "replay":
		return d.replay(ctx, args[1:])
	}
	fmt.Fprintf(stderr, "reten-relay dlq: unknown subcommand %q\n%s\n", args[0], dlqUsage)
	return exitUsage
}

// dlqCmd holds what every dlq subcommand needs once its flags are parsed.
type dlqCmd struct {
	stdout, stderr io.Writer
	getenv         env

	cfg *config.Config
	sec *security
	nc  *nats.Conn // NATS source only
}

// open loads the config and, for a NATS source, connects. The caller closes d.nc.
func (d *dlqCmd) open(name, path string) (code int, ok bool) {
	cfg, code := loadConfig(path, d.stderr, d.getenv)
	if cfg == nil {
		return code, false
	}
	if cfg.Results == nil {
		fmt.Fprintf(d.stderr, "%s: the results section is missing, so there is no dead-letter subject\n", path)
		return exitUsage, false
	}
	d.cfg = cfg
	sec, err := newSecurity(cfg)
	if err != nil {
		fmt.Fprintf(d.stderr, "%s: %v\n", name, err)
		return exitFailure, false
	}
	d.sec = sec
	if cfg.Results.Source == config.SinkKafka {
		return exitOK, true
	}
	url := cfg.NATS.URL
	if cfg.NATS.Embedded() {
		// The embedded server runs inside `reten-relay run`: reach it on its fixed port.
		if cfg.NATS.EmbeddedPort <= 0 {
			fmt.Fprintf(d.stderr, "%s: nats.url is embedded, so the dead letters live in the server inside `reten-relay run`; "+
				"give it a fixed port (nats.embedded_port, or NATS_EMBEDDED_PORT with the shipped config) and run this while the relay runs, or point NATS_URL at your NATS\n", name)
			return exitUsage, false
		}
		url = fmt.Sprintf("nats://%s:%d", cfg.NATS.EmbeddedHost, cfg.NATS.EmbeddedPort)
	}
	// A TLS handshake on a loaded machine can take longer than nats.go's 2s default.
	nc, err := nats.Connect(url, append([]nats.Option{nats.Name(cfg.NATS.Name + "-dlq"), nats.Timeout(10 * time.Second)}, sec.natsOpts...)...)
	if err != nil {
		fmt.Fprintf(d.stderr, "%s: %v\n", name, explainNATS(redactURL(url), cfg.NATS.NATSAuth(), err))
		if cfg.NATS.Embedded() {
			fmt.Fprintf(d.stderr, "nats.url is embedded: the dead letters live in the server inside `reten-relay run`, on %s "+
				"(NATS_EMBEDDED_PORT); run this while the relay runs, or point NATS_URL at your NATS\n", url)
		}
		return exitFailure, false
	}
	d.nc = nc
	return exitOK, true
}

func (d *dlqCmd) kafkaList(reason string, limit int) kafkaresults.ListOptions {
	return kafkaresults.ListOptions{Brokers: d.cfg.Kafka.Brokers, DeadLetterTopic: d.cfg.Results.DeadLetter,
		Reason: reason, Limit: limit, TLS: d.sec.kafkaTLS, SASL: d.sec.kafkaSASL}
}

// dlqRow is one line of `dlq ls` and `dlq replay`.
type dlqRow struct {
	pos  string
	at   time.Time
	dl   schema.DeadLetter
	dest string
}

func (d *dlqCmd) ls(ctx context.Context, args []string) int {
	fs := newFlags("dlq ls")
	path := fs.String("config", "config.yaml", "config file")
	reason := fs.String("reason", "", "only dead letters of this reason: "+strings.Join(dlqReasons, ", "))
	limit := fs.Int("limit", 0, "list at most this many (0: all)")
	if code, ok := parseNoArgs(fs, args, d.stdout, d.stderr); !ok {
		return code
	}
	if code, ok := d.open("dlq ls", *path); !ok {
		return code
	}
	var rows []dlqRow
	if d.nc != nil {
		defer d.nc.Close()
		dls, err := natsresults.ListDeadLetters(ctx, d.nc, natsresults.ListOptions{DeadLetterSubject: d.cfg.Results.DeadLetter, Reason: *reason, Limit: *limit})
		if err != nil {
			fmt.Fprintf(d.stderr, "dlq ls: %v\n", err)
			return exitFailure
		}
		for _, x := range dls {
			rows = append(rows, dlqRow{pos: strconv.FormatUint(x.Seq, 10), at: x.Time, dl: x.Letter})
		}
	} else {
		dls, err := kafkaresults.ListDeadLetters(ctx, d.kafkaList(*reason, *limit))
		if err != nil {
			fmt.Fprintf(d.stderr, "dlq ls: %v\n", err)
			return exitFailure
		}
		for _, x := range dls {
			rows = append(rows, dlqRow{pos: fmt.Sprintf("%d:%d", x.Partition, x.Offset), at: x.Time, dl: x.Letter})
		}
	}
	d.table(rows, false)
	fmt.Fprintf(d.stdout, "%d dead letters in %s\n", len(rows), d.cfg.Results.DeadLetter)
	return exitOK
}

func (d *dlqCmd) show(ctx context.Context, args []string) int {
	fs := newFlags("dlq show")
	path := fs.String("config", "config.yaml", "config file")
	pos, code, ok := parseFlags(fs, args, d.stdout, d.stderr)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintln(d.stderr, "usage: reten-relay dlq show [-config config.yaml] SEQ|PARTITION:OFFSET\nRun `reten-relay dlq show -h` for more.")
		return exitUsage
	}
	if code, ok := d.open("dlq show", *path); !ok {
		return code
	}
	var raw []byte
	var err error
	if d.nc != nil {
		defer d.nc.Close()
		var seq uint64
		if seq, err = strconv.ParseUint(pos[0], 10, 64); err != nil {
			fmt.Fprintf(d.stderr, "dlq show: want the stream sequence that `dlq ls` shows, got %q\n", pos[0])
			return exitUsage
		}
		var x natsresults.DeadLetter
		x, err = natsresults.ShowDeadLetter(ctx, d.nc, d.cfg.Results.DeadLetter, seq)
		raw = x.Raw
	} else {
		p, o, perr := parsePartitionOffset(pos[0])
		if perr != nil {
			fmt.Fprintf(d.stderr, "dlq show: %v\n", perr)
			return exitUsage
		}
		var x kafkaresults.DeadLetter
		x, err = kafkaresults.ShowDeadLetter(ctx, d.kafkaList("", 0), p, o)
		raw = x.Raw
	}
	if err != nil {
		fmt.Fprintf(d.stderr, "dlq show: %v\n", err)
		return exitFailure
	}
	var pretty any
	if json.Unmarshal(raw, &pretty) == nil {
		enc := json.NewEncoder(d.stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		_ = enc.Encode(pretty)
	} else {
		fmt.Fprintf(d.stdout, "%s\n", raw)
	}
	return exitOK
}

func (d *dlqCmd) replay(ctx context.Context, args []string) int {
	fs := newFlags("dlq replay")
	path := fs.String("config", "config.yaml", "config file")
	reason := fs.String("reason", "", "only dead letters of this reason: "+strings.Join(dlqReasons, ", "))
	limit := fs.Int("limit", 0, "replay at most this many (0: all there are now)")
	perSecond := fs.Float64("rate", 50, "messages per second at most")
	dryRun := fs.Bool("dry-run", false, "show what would be replayed; change nothing")
	if code, ok := parseNoArgs(fs, args, d.stdout, d.stderr); !ok {
		return code
	}
	if code, ok := d.open("dlq replay", *path); !ok {
		return code
	}
	log, _ := newLogger(d.stderr, d.cfg.Log.Level, d.cfg.Log.Format)
	var rows []dlqRow
	var n int
	var err error
	var blocked string
	if d.nc != nil {
		defer d.nc.Close()
		n, err = natsresults.Replay(ctx, d.nc, natsresults.ReplayOptions{
			DeadLetterSubject: d.cfg.Results.DeadLetter, InputSubject: d.cfg.Results.Subject, Reason: *reason,
			Limit: *limit, DryRun: *dryRun, Rate: *perSecond, Logger: log,
			Replayed: func(x natsresults.DeadLetter, to string) {
				rows = append(rows, dlqRow{pos: strconv.FormatUint(x.Seq, 10), at: x.Time, dl: x.Letter, dest: to})
			},
		})
	} else {
		n, err = kafkaresults.Replay(ctx, kafkaresults.ReplayOptions{
			Brokers: d.cfg.Kafka.Brokers, DeadLetterTopic: d.cfg.Results.DeadLetter, InputTopic: d.cfg.Results.Topic,
			Reason: *reason, Limit: *limit, DryRun: *dryRun, Rate: *perSecond, Logger: log, TLS: d.sec.kafkaTLS, SASL: d.sec.kafkaSASL,
			Replayed: func(x kafkaresults.DeadLetter) {
				rows = append(rows, dlqRow{pos: fmt.Sprintf("%d:%d", x.Partition, x.Offset), at: x.Time, dl: x.Letter, dest: d.cfg.Results.Topic})
			},
			Blocked: func(x kafkaresults.DeadLetter) {
				blocked = fmt.Sprintf("stopped at %d:%d, a dead letter of reason %s: Kafka keeps one position per replay group, "+
					"so a replay filtered by reason cannot pass it (replay that one too, or without -reason)\n", x.Partition, x.Offset, x.Letter.Reason)
			},
		})
	}
	d.table(rows, true)
	fmt.Fprint(d.stdout, blocked)
	switch {
	case *dryRun:
		fmt.Fprintf(d.stdout, "dry run: would replay %d dead letters from %s (nothing changed)\n", n, d.cfg.Results.DeadLetter)
	default:
		fmt.Fprintf(d.stdout, "replayed %d dead letters from %s and removed them from it\n", n, d.cfg.Results.DeadLetter)
	}
	if err != nil {
		fmt.Fprintln(d.stderr, err)
		return exitFailure
	}
	return exitOK
}

// dlqReasons are the dead-letter reasons (design §5), for -reason's help.
var dlqReasons = []string{schema.ReasonInvalidMessage, schema.ReasonUnknownResultType, schema.ReasonRejected, schema.ReasonConflict, schema.ReasonRetriesExhausted}

// table prints rows: position, time, reason, task, HTTP status and error (and where a
// replay sent each).
func (d *dlqCmd) table(rows []dlqRow, withDest bool) {
	if len(rows) == 0 {
		return
	}
	tw := tabwriter.NewWriter(d.stdout, 2, 4, 2, ' ', 0)
	head := "POSITION\tTIME\tREASON\tTASK\tSTATUS\tERROR"
	if withDest {
		head += "\tTO"
	}
	fmt.Fprintln(tw, head)
	for _, r := range rows {
		status := "-"
		if r.dl.HTTPStatus != 0 {
			status = strconv.Itoa(r.dl.HTTPStatus)
		}
		line := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s", r.pos, r.at.UTC().Format(time.RFC3339), r.dl.Reason, orDash(taskOf(r.dl)), status, orDash(shorten(r.dl.Error, 60)))
		if withDest {
			line += "\t" + r.dest
		}
		fmt.Fprintln(tw, line)
	}
	_ = tw.Flush()
}

// taskOf is the activity a dead letter's original message was for, when it says.
func taskOf(dl schema.DeadLetter) string {
	body, err := dl.Original()
	if err != nil {
		return ""
	}
	var m struct {
		ActivityID         string `json:"activity_id"`
		ProviderActivityID string `json:"provider_activity_id"`
	}
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	if m.ActivityID != "" {
		return m.ActivityID
	}
	return m.ProviderActivityID
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// parsePartitionOffset reads "PARTITION:OFFSET" as `dlq ls` prints it for Kafka.
func parsePartitionOffset(s string) (int, int64, error) {
	ps, os, ok := strings.Cut(s, ":")
	p, perr := strconv.Atoi(ps)
	o, oerr := strconv.ParseInt(os, 10, 64)
	if !ok || errors.Join(perr, oerr) != nil || p < 0 || o < 0 {
		return 0, 0, fmt.Errorf("want PARTITION:OFFSET as `dlq ls` shows it, got %q", s)
	}
	return p, o, nil
}
