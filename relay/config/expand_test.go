package config_test

import (
	"testing"

	"github.com/reten/reten-relay/relay/config"
)

func TestLoad_ExpandsEnvironmentVariablesInValues(t *testing.T) {
	tests := []struct {
		name  string
		value string
		env   env
		want  string
	}{
		{"a plain value", "plain", nil, "plain"},
		{"a set variable", "${NAME}", env{"NAME": "relay-a"}, "relay-a"},
		{"an unset variable is empty", "x${NAME}y", nil, "xy"},
		{"a default for an unset variable", "${NAME:-fallback}", nil, "fallback"},
		{"a default for an empty variable", "${NAME:-fallback}", env{"NAME": ""}, "fallback"},
		{"a set variable wins over its default", "${NAME:-fallback}", env{"NAME": "set"}, "set"},
		{"an empty default", "x${NAME:-}y", nil, "xy"},
		{"variables inside text", "pre-${A}-${B:-b}-post", env{"A": "a"}, "pre-a-b-post"},
		{"an escaped reference", "$${NAME}", env{"NAME": "no"}, "${NAME}"},
		{"a lone dollar", "a$b$", nil, "a$b$"},
		{"a value with YAML syntax stays a string", "${V}", env{"V": "a: [b, {c}]"}, "a: [b, {c}]"},
		{"a quoted value expands too", `"${NAME:-q}"`, nil, "q"},
		{"a default with spaces and colons", `"${NAME:-a b:c}"`, nil, "a b:c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Load("c.yaml", []byte("nats:\n  name: "+tt.value+"\n"), tt.env.lookup)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.NATS.Name != tt.want {
				t.Fatalf("nats.name = %q, want %q", cfg.NATS.Name, tt.want)
			}
		})
	}
}

func TestLoad_RejectsBadVariableReferences(t *testing.T) {
	tests := []struct{ value, want string }{
		{"${}", `c.yaml:3: nats.name: bad variable name "" in ${}`},
		{"${1X}", `c.yaml:3: nats.name: bad variable name "1X" in ${1X}`},
		{"${A-b}", `c.yaml:3: nats.name: bad variable name "A-b" in ${A-b}`},
		{"${A:=b}", `c.yaml:3: nats.name: bad variable reference ${A:=b}: use ${VAR}, ${VAR:-default} or ${VAR:?message}`},
		{"${A:?}", `c.yaml:3: nats.name: environment variable A: is not set`},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			_, err := config.Load("c.yaml", []byte("log: {}\nnats:\n  name: "+tt.value+"\n"), nil)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Load error = %v, want %s", err, tt.want)
			}
		})
	}
}

func TestLoad_ExpandsListsAndNumbers(t *testing.T) {
	data := []byte(`kafka:
  brokers: ${KAFKA_BROKERS}
tasks:
  page_size: ${PAGE_SIZE:-25}
  emit_initial: ${EMIT:-false}
  routes: [{name: k, sink: kafka, topic: "t-{op}"}]
`)
	cfg, err := config.Load("c.yaml", data, env{"KAFKA_BROKERS": "a:9092, b:9092,"}.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Kafka.Brokers; len(got) != 2 || got[0] != "a:9092" || got[1] != "b:9092" {
		t.Fatalf("brokers = %q", got)
	}
	if cfg.Tasks.PageSize != 25 || cfg.Tasks.EmitInitial {
		t.Fatalf("tasks = %+v", cfg.Tasks)
	}
}

func TestLoad_ExpansionKeepsLineNumbers(t *testing.T) {
	// A multi-line value from the environment must not shift the lines of later keys.
	data := []byte("nats:\n  name: ${NAME}\nlog:\n  level: loud\n")
	_, err := config.Load("c.yaml", data, env{"NAME": "a\nb\nc"}.lookup)
	want := `c.yaml:4: log.level: must be one of debug, info, warn, error, got "loud"`
	if err == nil || err.Error() != want {
		t.Fatalf("Load error = %v, want %s", err, want)
	}
}
