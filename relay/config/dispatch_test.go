package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/reten/reten-relay/relay/config"
)

const pushRoutes = "tasks:\n  interval: \"off\"\n  routes: [{name: a, sink: nats, subject: x, when: {op: [dispatched]}}]\n"

func TestLoad_DispatchSectionAndIntervalOff(t *testing.T) {
	cfg, err := config.Load("config.yaml", []byte(pushRoutes+
		"dispatch:\n  listen: 0.0.0.0:8443\n  api_key: ${PUSH_KEY}\n  max_body: 512KiB\n"), env{"PUSH_KEY": "provider-secret"}.lookup)
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.Dispatch
	if d.Listen != "0.0.0.0:8443" || d.Path != "/activities" || d.APIKey.Reveal() != "provider-secret" || d.MaxBody != 512<<10 {
		t.Errorf("got %+v", d)
	}
	if !cfg.Tasks.PollingOff() || cfg.Tasks.Interval != config.IntervalOff {
		t.Errorf("interval off: got %s", cfg.Tasks.Interval)
	}
	if strings.Contains(config.NewSecret("provider-secret").String(), "provider") {
		t.Error("the dispatch key prints")
	}
	cfg, err = config.Load("config.yaml", []byte(pushRoutes+"dispatch: {api_key: k}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Dispatch.Listen != "127.0.0.1:8090" || cfg.Dispatch.MaxBody != 1<<20 {
		t.Errorf("defaults: got %+v", cfg.Dispatch)
	}
	if cfg, _ := config.Load("config.yaml", []byte("tasks:\n  routes: [{name: a, sink: nats, subject: x}]\n"), nil); cfg.Tasks.Interval != 30*time.Second {
		t.Errorf("default interval: %s", cfg.Tasks.Interval)
	}
}

func TestLoad_DispatchMistakesNameTheirLine(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"no key", pushRoutes + "dispatch:\n  listen: 127.0.0.1:8090\n",
			"config.yaml:4: dispatch.api_key: is required: the x-api-key Reten's dispatch configuration sends"},
		{"a size without a number", pushRoutes + "dispatch:\n  api_key: k\n  max_body: lots\n",
			`config.yaml:6: dispatch.max_body: want a size like 1MiB, 512KiB or 1048576, got "lots"`},
		{"a size too large", pushRoutes + "dispatch:\n  api_key: k\n  max_body: 1GiB\n",
			"config.yaml:6: dispatch.max_body: must be between 1B and 64MiB, got 1073741824 bytes"},
		{"a relative path", pushRoutes + "dispatch:\n  api_key: k\n  path: activities\n",
			`config.yaml:6: dispatch.path: must start with /, got "activities"`},
		{"a certificate file that is not there", pushRoutes + "dispatch:\n  api_key: k\n  tls: {cert: /nonexistent/c.pem, key: /nonexistent/k.pem}\n",
			"config.yaml:6: dispatch.tls.cert: cannot read /nonexistent/c.pem"},
		{"no routes", "dispatch: {api_key: k}\n",
			"config.yaml:1: dispatch: needs tasks.routes to know where pushed activities go"},
		{"off anywhere else", "reten:\n  timeout: off\n",
			`config.yaml:2: reten.timeout: want a duration like 30s or 5m, got "off"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Load("config.yaml", []byte(tc.yaml), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v\nwant %s", err, tc.want)
			}
		})
	}
}
