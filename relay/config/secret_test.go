package config_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/reten/reten-relay/relay/config"
	"github.com/reten/reten-relay/schema"
)

const key = "rtn_sk_live_do_not_print_me"

func TestSecret_NeverPrintsTheKey(t *testing.T) {
	cfg, err := config.Load("c.yaml", []byte("reten:\n  url: prod\n  api_key: ${K}\n"), env{"K": key}.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Reten.APIKey.Reveal() != key {
		t.Fatal("Reveal must return the key")
	}
	js, _ := json.Marshal(cfg)
	ym, _ := yaml.Marshal(cfg)
	outputs := map[string]string{
		"%v":       fmt.Sprintf("%v", cfg),
		"%+v":      fmt.Sprintf("%+v", cfg.Reten),
		"%#v":      fmt.Sprintf("%#v", cfg.Reten),
		"%s":       fmt.Sprintf("%s", cfg.Reten.APIKey),
		"%q":       fmt.Sprintf("%q", cfg.Reten.APIKey),
		"%x":       fmt.Sprintf("%x", cfg.Reten.APIKey),
		"json":     string(js),
		"yaml":     string(ym),
		"Redacted": cfg.Redacted(),
		"String":   cfg.Reten.APIKey.String(),
	}
	for how, out := range outputs {
		if strings.Contains(out, key) || strings.Contains(out, "do_not_print") {
			t.Errorf("%s shows the key: %s", how, out)
		}
		if !strings.Contains(out, schema.Redacted) {
			t.Errorf("%s does not show the redacted form: %s", how, out)
		}
	}
}

func TestSecret_ErrorsNeverEchoTheKey(t *testing.T) {
	_, err := config.Load("c.yaml", []byte("reten:\n  url: prod\n  api_key: \"rtn_sk_secret \\n\"\n"), nil)
	want := "c.yaml:3: reten.api_key: must not contain whitespace or control characters"
	if err == nil || err.Error() != want {
		t.Fatalf("Load error = %v, want %s", err, want)
	}
}

func TestSecret_EmptyPrintsEmpty(t *testing.T) {
	var s config.Secret
	if s.String() != "" || !s.IsZero() || fmt.Sprint(s) != "" {
		t.Fatalf("empty secret prints %q", s.String())
	}
}
