package config

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
)

// validator collects problems with the line each key had in the file.
type validator struct {
	src  *source
	errs Errors
}

func (v *validator) add(path, format string, args ...any) {
	file := "config"
	if v.src != nil {
		file = v.src.file
	}
	v.errs = append(v.errs, &Error{File: file, Line: v.src.line(path), Field: path, Msg: fmt.Sprintf(format, args...) + v.src.fromEnv(path)})
}

// check adds err (if any) as the problem of path.
func (v *validator) check(path string, err error) {
	if err != nil {
		v.add(path, "%s", err)
	}
}

func (v *validator) positive(path string, d time.Duration) {
	if d <= 0 {
		v.add(path, "must be > 0, got %s", d)
	}
}

func (v *validator) between(path string, n, lo, hi int) {
	if n < lo || n > hi {
		v.add(path, "must be between %d and %d, got %d", lo, hi, n)
	}
}

func (v *validator) oneOf(path, got string, allowed ...string) bool {
	if slices.Contains(allowed, got) {
		return true
	}
	v.add(path, "must be one of %s, got %q", strings.Join(allowed, ", "), got)
	return false
}

// Validate checks every rule of every section and returns Errors, or nil. Load calls it;
// call it again after changing a Config in code. Messages carry the lines of the file the
// Config was loaded from (0 for a Config built in code).
func (c *Config) Validate() error {
	v := &validator{src: c.src}
	c.validateReten(v)
	c.validateBrokers(v)
	c.validateSecure(v)
	if c.Tasks != nil {
		c.validateTasks(v)
	}
	if c.Results != nil {
		c.validateResults(v)
	}
	if c.Dispatch != nil {
		c.validateDispatch(v)
	}
	v.check("http.listen", hostPort(c.HTTP.Listen))
	v.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	v.oneOf("log.format", c.Log.Format, "auto", "json", "console")
	if len(v.errs) > 0 {
		return v.errs.sorted()
	}
	return nil
}

func (c *Config) validateReten(v *validator) {
	r := c.Reten
	v.check("reten.url", retenURL(r.URL))
	key := r.APIKey.Reveal()
	switch {
	case key == "" && !r.IsSimulator():
		v.add("reten.api_key", `is required when reten.url is not "simulator"`)
	case strings.IndexFunc(key, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		// Never echo the key, not even in this message.
		v.add("reten.api_key", "must not contain whitespace or control characters")
	}
	v.positive("reten.timeout", r.Timeout)
}

func (c *Config) validateBrokers(v *validator) {
	v.check("nats.url", natsURL(c.NATS.URL))
	if c.NATS.Name == "" {
		v.add("nats.name", "must not be empty")
	}
	if c.NATS.Embedded() {
		if c.NATS.StoreDir == "" {
			v.add("nats.store_dir", `must not be empty when nats.url is "embedded"`)
		}
		if c.NATS.EmbeddedPort < -1 || c.NATS.EmbeddedPort > 65535 {
			v.add("nats.embedded_port", "must be -1 (any free port) or 0..65535, got %d", c.NATS.EmbeddedPort)
		}
	}
	c.validateStreams(v)
	k := c.Kafka
	for i, b := range k.Brokers {
		v.check(fmt.Sprintf("kafka.brokers[%d]", i), hostPort(b))
	}
	if k.ClientID == "" {
		v.add("kafka.client_id", "must not be empty")
	}
	if k.TopicPartitions < 1 {
		v.add("kafka.topic_partitions", "must be >= 1, got %d", k.TopicPartitions)
	}
	if k.ReplicationFactor < 1 {
		v.add("kafka.replication_factor", "must be >= 1, got %d", k.ReplicationFactor)
	}
}

// Warnings lists settings that load but look wrong, in the same format as errors; the
// caller logs them.
func (c *Config) Warnings() Errors {
	v := &validator{src: c.src}
	if key := c.Reten.APIKey.Reveal(); key != "" && !strings.HasPrefix(key, "rtn_sk_") {
		v.add("reten.api_key", `does not start with "rtn_sk_"; is it a Reten API key?`)
	}
	c.secureWarnings(v)
	if c.Tasks == nil && c.Results == nil {
		v.add("config", "neither tasks nor results is configured: the relay has nothing to do")
	}
	return v.errs.sorted()
}
