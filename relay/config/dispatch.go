package config

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// IntervalOff is tasks.interval "off": routes and sinks serve the dispatch receiver, and
// the poller never runs.
const IntervalOff time.Duration = -1

// PollingOff reports whether tasks.interval is "off".
func (t *TasksConfig) PollingOff() bool { return t != nil && t.Interval == IntervalOff }

// DispatchConfig is the push receiver (design §13).
type DispatchConfig struct {
	// Listen is the host:port Reten pushes to. Default: "127.0.0.1:8090".
	Listen string `yaml:"listen"`
	// Path is the endpoint's path; Reten POSTs {baseUrl}/activities. Default: "/activities".
	Path string `yaml:"path"`
	// APIKey is what Reten sends as x-api-key (the provider credential). Required.
	APIKey Secret `yaml:"api_key"`
	// MaxBody is the largest body accepted. Default: 1MiB.
	MaxBody ByteSize `yaml:"max_body"`
	// TLS, when cert and key are set, serves HTTPS (Reten calls over the internet).
	TLS DispatchTLS `yaml:"tls"`
}

// DispatchTLS is the receiver's certificate.
type DispatchTLS struct {
	// Cert is a PEM certificate (chain) file. Default: "" (plain HTTP).
	Cert string `yaml:"cert"`
	// Key is the PEM private key file of Cert. Default: "".
	Key string `yaml:"key"`
}

// Enabled reports whether the receiver serves HTTPS.
func (t DispatchTLS) Enabled() bool { return t.Cert != "" || t.Key != "" }

// DefaultDispatch returns the dispatch section's defaults (used when the section is present).
func DefaultDispatch() *DispatchConfig {
	return &DispatchConfig{Listen: "127.0.0.1:8090", Path: "/activities", MaxBody: 1 << 20}
}

func (d *DispatchConfig) applyDefaults() { *d = *DefaultDispatch() }

// maxDispatchBody bounds dispatch.max_body: a push is a batch of at most 100 activities.
const maxDispatchBody = 64 << 20

func (c *Config) validateDispatch(v *validator) {
	d := c.Dispatch
	v.check("dispatch.listen", hostPort(d.Listen))
	if d.Listen == c.HTTP.Listen && !strings.HasSuffix(d.Listen, ":0") {
		v.add("dispatch.listen", "must differ from http.listen (%s)", c.HTTP.Listen)
	}
	if !strings.HasPrefix(d.Path, "/") {
		v.add("dispatch.path", "must start with /, got %q", d.Path)
	}
	if d.APIKey.IsZero() {
		v.add("dispatch.api_key", "is required: the x-api-key Reten's dispatch configuration sends")
	}
	if d.MaxBody <= 0 || d.MaxBody > maxDispatchBody {
		v.add("dispatch.max_body", "must be between 1B and 64MiB, got %d bytes", d.MaxBody)
	}
	if d.TLS.Enabled() {
		for _, f := range []struct{ path, file string }{{"dispatch.tls.cert", d.TLS.Cert}, {"dispatch.tls.key", d.TLS.Key}} {
			if f.file == "" {
				v.add(f.path, "is required when dispatch.tls is used")
			} else if _, err := os.Stat(f.file); err != nil {
				v.add(f.path, "cannot read %s: %v", f.file, err)
			}
		}
	}
	if c.Tasks == nil || len(c.Tasks.Routes) == 0 {
		v.add("dispatch", "needs tasks.routes to know where pushed activities go (tasks.interval: off for a push-only relay)")
	}
}

// ByteSize is a size in bytes, written as a number of bytes or with B, KiB, MiB or GiB.
type ByteSize int64

// ParseByteSize parses "1048576", "512KiB", "1MiB", "1GiB" or "100B".
func ParseByteSize(s string) (ByteSize, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	num, mult := s, int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("want a size like 1MiB, 512KiB or 1048576, got %q", s)
	}
	return ByteSize(n * mult), nil
}
