package config

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/reten/reten-relay/relay/routing"
	"github.com/reten/reten-relay/schema/subjects"
)

// bucketName is what JetStream accepts as a KeyValue bucket name.
var bucketName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// queryReserved are the list parameters the relay sets itself.
var queryReserved = []string{"page", "per_page", "limit"}

func (c *Config) validateTasks(v *validator) {
	t := c.Tasks
	if !t.PollingOff() {
		v.positive("tasks.interval", t.Interval)
	}
	v.between("tasks.page_size", t.PageSize, 1, 100)
	v.between("tasks.concurrency", t.Concurrency, 1, 32)
	for _, k := range slices.Sorted(maps.Keys(t.Query)) {
		for _, r := range queryReserved {
			if strings.EqualFold(k, r) {
				v.add("tasks.query."+k, "is set by the relay (use tasks.page_size)")
			}
		}
	}
	v.positive("tasks.tombstone_ttl", t.TombstoneTTL)
	if t.MaxTasks < 1 {
		v.add("tasks.max_tasks", "must be >= 1, got %d", t.MaxTasks)
	}
	switch b := t.StateBucket(); {
	case t.State == "":
		v.add("tasks.state", "must not be empty")
	case strings.HasPrefix(t.State, StateKVPrefix) && !bucketName.MatchString(b):
		v.add("tasks.state", "nats-kv: needs a bucket name of letters, digits, - and _, got %q", b)
	case b != "" && c.NATS.URL == "":
		v.add("tasks.state", "a nats-kv state needs nats.url")
	}
	if t.LeaseTTL < time.Second {
		v.add("tasks.lease_ttl", "must be >= 1s (JetStream counts message TTLs in seconds), got %s", t.LeaseTTL)
	}
	g := t.DeleteGuard
	if !(g.MaxShare > 0 && g.MaxShare <= 1) { // also refuses NaN
		v.add("tasks.delete_guard.max_share", "must be > 0 and <= 1, got %g", g.MaxShare)
	}
	if g.MinSnapshot < 0 {
		v.add("tasks.delete_guard.min_snapshot", "must be >= 0, got %d", g.MinSnapshot)
	}
	if g.ConfirmCycles < 1 {
		v.add("tasks.delete_guard.confirm_cycles", "must be >= 1, got %d", g.ConfirmCycles)
	}
	if len(t.Routes) == 0 {
		v.add("tasks.routes", "at least one route is required")
	}
	names := map[string]string{}
	for i, r := range t.Routes {
		path := fmt.Sprintf("tasks.routes[%d]", i)
		switch first, dup := names[r.Name]; {
		case r.Name == "":
			v.add(path+".name", "is required")
		case dup:
			v.add(path+".name", "duplicate route name %q (first at line %d)", r.Name, v.src.line(first))
		default:
			names[r.Name] = path + ".name"
		}
		c.validateRoute(v, path, r)
	}
}

func (c *Config) validateRoute(v *validator, path string, r RouteConfig) {
	var use, other string
	switch r.Sink {
	case SinkNATS:
		use, other = "subject", "topic"
	case SinkKafka:
		use, other = "topic", "subject"
		if !c.Kafka.Configured() {
			v.add(path+".sink", "kafka is not configured (set kafka.brokers)")
		}
	case "":
		v.add(path+".sink", "is required: nats or kafka")
	default:
		v.add(path+".sink", "must be one of nats, kafka, got %q", r.Sink)
	}
	if use != "" {
		dest := r.Destination()
		otherSet := (other == "topic" && r.Topic != "") || (other == "subject" && r.Subject != "")
		switch {
		case otherSet:
			v.add(path+"."+other, "is for sink %s; sink %s uses %s", otherSink(r.Sink), r.Sink, use)
		case dest == "":
			v.add(path+"."+use, "is required for sink %s", r.Sink)
		default:
			c.validateDestination(v, path+"."+use, r.Sink, dest)
		}
	}
	if r.Key != "" {
		if r.Sink != SinkKafka {
			v.add(path+".key", "is only used by sink kafka")
		} else if _, err := routing.ParseTemplate(r.Key); err != nil {
			v.add(path+".key", "%s", err)
		}
	}
	for _, field := range slices.Sorted(maps.Keys(r.When)) {
		values := r.When[field]
		fpath := path + ".when." + field
		if _, ok := routing.LookupField(field); !ok {
			v.add(fpath, "unknown field; known fields are %s", strings.Join(routing.KnownFields, ", "))
			continue
		}
		if len(values) == 0 {
			v.add(fpath, "must list at least one value")
		}
		if field == "op" {
			for j, op := range values {
				v.oneOf(fmt.Sprintf("%s[%d]", fpath, j), op, "created", "updated", "deleted", "dispatched")
			}
		}
	}
}

func otherSink(s string) string {
	if s == SinkNATS {
		return SinkKafka
	}
	return SinkNATS
}

// validateDestination checks a route's subject or topic template: its fields, its literal
// text, and that it does not feed the results input.
func (c *Config) validateDestination(v *validator, path, sink, tmpl string) {
	t, err := routing.ParseTemplate(tmpl)
	if err != nil {
		v.add(path, "%s", err)
		return
	}
	// A placeholder renders as one token of safe characters: "x" stands for it when the
	// literal text is checked, "*" when overlaps are.
	if sink == SinkKafka {
		if err := kafkaTopic(t.Literal("x")); err != nil {
			v.add(path, "%s", err)
			return
		}
		if r := c.Results; r != nil && r.Source == SinkKafka && r.Topic != "" && t.Literal("\x00") == r.Topic {
			v.add(path, "is results.topic: task events would be read back as results")
		}
		return
	}
	if err := natsSubject(t.Literal("x"), false); err != nil {
		v.add(path, "%s", err)
		return
	}
	if r := c.Results; r != nil && r.Source == SinkNATS && natsSubject(r.Subject, true) == nil {
		if subjects.Overlap(t.StreamSubject(), r.Subject) {
			v.add(path, "%q overlaps results.subject %q: task events would be read back as results", tmpl, r.Subject)
		}
	}
}

func (c *Config) validateResults(v *validator) {
	r := c.Results
	switch r.Source {
	case SinkNATS:
		for _, k := range []string{"topic", "group"} {
			if v.src.has("results." + k) {
				v.add("results."+k, "is for source kafka; source nats uses subject, stream and durable")
			}
		}
		v.check("results.subject", natsSubject(r.Subject, true))
		v.check("results.stream", streamName(r.Stream))
		v.check("results.durable", streamName(r.Durable))
		c.validateResultOutput(v, "results.dead_letter", r.DeadLetter, true)
		c.validateResultOutput(v, "results.outcomes", r.Outcomes, false)
	case SinkKafka:
		for _, k := range []string{"subject", "stream", "durable"} {
			if v.src.has("results." + k) {
				v.add("results."+k, "is for source nats; source kafka uses topic and group")
			}
		}
		if !c.Kafka.Configured() {
			v.add("results.source", "kafka is not configured (set kafka.brokers)")
		}
		if r.Topic == "" {
			v.add("results.topic", "is required for source kafka")
		} else {
			v.check("results.topic", kafkaTopic(r.Topic))
		}
		if r.Group == "" {
			v.add("results.group", "must not be empty")
		}
		c.validateResultOutput(v, "results.dead_letter", r.DeadLetter, true)
		c.validateResultOutput(v, "results.outcomes", r.Outcomes, false)
	default:
		v.add("results.source", "must be one of nats, kafka, got %q", r.Source)
	}
	v.between("results.concurrency", r.Concurrency, 1, 1024)
	v.oneOf("results.on_conflict", r.OnConflict, "ack", "dead_letter")
	v.positive("results.backoff.initial", r.Backoff.Initial)
	if r.Backoff.Max < r.Backoff.Initial {
		v.add("results.backoff.max", "must be >= results.backoff.initial (%s), got %s", r.Backoff.Initial, r.Backoff.Max)
	}
	v.positive("results.backoff.max_elapsed", r.Backoff.MaxElapsed)
	v.positive("results.auth_probe_interval", r.AuthProbeInterval)
	v.positive("results.result_types_refresh", r.ResultTypesRefresh)
	v.positive("results.ack_wait", r.AckWait)
	v.positive("results.stall_after", r.StallAfter)
}

// validateResultOutput checks dead_letter and outcomes: a subject (or topic) of the
// source's broker that is not read back as input.
func (c *Config) validateResultOutput(v *validator, path, dest string, required bool) {
	r := c.Results
	if dest == "" {
		if required {
			v.add(path, "is required (a %s for messages that cannot be delivered)", map[bool]string{true: "subject", false: "topic"}[r.Source == SinkNATS])
		}
		return
	}
	if r.Source == SinkKafka {
		if err := kafkaTopic(dest); err != nil {
			v.add(path, "%s", err)
		} else if dest == r.Topic {
			v.add(path, "must differ from results.topic %q", r.Topic)
		}
		return
	}
	if err := natsSubject(dest, false); err != nil {
		v.add(path, "%s", err)
		return
	}
	if natsSubject(r.Subject, true) == nil && subjects.Overlap(dest, r.Subject) {
		v.add(path, "%q overlaps results.subject %q: it would be read back as input", dest, r.Subject)
	}
}
