package config_test

import (
	"errors"
	"testing"

	"github.com/reten/reten-relay/relay/config"
)

// Each config is written from column 0 so that line numbers read straight off the test.
func TestLoad_ReportsEveryProblemWithFileLineAndField(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		env  env
		want string
	}{
		{"an empty file", ``, nil,
			`config.yaml:1: config: the file is empty; want sections such as reten, nats, tasks, results`},
		{"a file of comments only", "# nothing\n", nil,
			`config.yaml:1: config: the file is empty; want sections such as reten, nats, tasks, results`},
		{"malformed YAML keeps yaml's own line", `reten:
  url: simulator
 timeout: 5s
`, nil, `config.yaml:2: yaml: did not find expected key`},
		{"a tab in the indentation", "reten:\n\turl: x\n", nil,
			`config.yaml:2: yaml: found character that cannot start any token`},
		{"two documents", "log: {level: info}\n---\nlog: {level: debug}\n", nil,
			`config.yaml:2: config: only one YAML document is allowed`},
		{"a list at the top", "- reten\n", nil,
			`config.yaml:1: config: want a mapping of sections (reten, nats, tasks, ...), got a list`},
		{"an unknown section", "retne:\n  url: simulator\n", nil,
			`config.yaml:1: retne: unknown key; known keys are reten, nats, kafka, tasks, results, dispatch, http, log`},
		{"an unknown key in a section", `reten:
  url: simulator
  apikey: x
`, nil, `config.yaml:3: reten.apikey: unknown key; known keys are url, api_key, timeout, tls`},
		{"a duplicate key", `log:
  level: info
  level: debug
`, nil, `config.yaml:3: log.level: duplicate key (first at line 2)`},
		{"a bad duration", `tasks:
  interval: banana
  routes: [{name: a, sink: nats, subject: x}]
`, nil, `config.yaml:2: tasks.interval: want a duration like 30s or 5m (or "off"), got "banana"`},
		{"a duration without unit", "reten:\n  timeout: 15\n", nil,
			`config.yaml:2: reten.timeout: want a duration like 30s or 5m, got "15"`},
		{"a list where an integer belongs", `tasks:
  page_size: [1]
  routes: [{name: a, sink: nats, subject: x}]
`, nil, `config.yaml:2: tasks.page_size: want an integer, got a list`},
		{"a word where a boolean belongs", "kafka:\n  create_topics: maybe\n", nil,
			`config.yaml:2: kafka.create_topics: want true or false, got "maybe"`},
		{"a mapping where a string belongs", "log:\n  level: {x: 1}\n", nil,
			`config.yaml:2: log.level: want a string, got a mapping`},
		{"a nats-kv state with a bad bucket name", `tasks:
  state: "nats-kv:my.bucket"
  routes: [{name: a, sink: nats, subject: x}]
`, nil, `config.yaml:2: tasks.state: nats-kv: needs a bucket name of letters, digits, - and _, got "my.bucket"`},
		{"a lease shorter than JetStream's TTL unit", `tasks:
  state: nats-kv:STATE
  lease_ttl: 500ms
  routes: [{name: a, sink: nats, subject: x}]
`, nil, `config.yaml:3: tasks.lease_ttl: must be >= 1s (JetStream counts message TTLs in seconds), got 500ms`},
		{"an out-of-range page size", `tasks:
  page_size: 101
  routes: [{name: a, sink: nats, subject: x}]
`, nil, `config.yaml:2: tasks.page_size: must be between 1 and 100, got 101`},
		{"a bad Reten URL", "reten:\n  url: ftp://reten.ai\n  api_key: rtn_sk_x\n", nil,
			`config.yaml:2: reten.url: must be "simulator", "prod", "staging", "dev" or an absolute http(s) URL, got "ftp://reten.ai"`},
		{"a real Reten URL without key", "reten:\n  url: prod\n", nil,
			`config.yaml:1: reten.api_key: is required when reten.url is not "simulator"`},
		{"a bad NATS URL never shows its password", "nats:\n  url: http://u:secret@h:4222\n", nil,
			`config.yaml:2: nats.url: must be "embedded" or a nats://, tls://, ws:// or wss:// URL, got "http://u:xxxxx@h:4222"`},
		{"a bad broker address", "kafka:\n  brokers: [localhost]\n", nil,
			`config.yaml:2: kafka.brokers[0]: want host:port, got "localhost"`},
		{"a route naming unconfigured Kafka", `tasks:
  routes:
    - name: k
      sink: kafka
      topic: tasks
`, nil, `config.yaml:4: tasks.routes[0].sink: kafka is not configured (set kafka.brokers)`},
		{"a route with an unknown sink", `tasks:
  routes:
    - name: k
      sink: redis
      subject: x
`, nil, `config.yaml:4: tasks.routes[0].sink: must be one of nats, kafka, got "redis"`},
		{"a NATS route with a topic", `tasks:
  routes:
    - name: n
      sink: nats
      topic: tasks
`, nil, `config.yaml:5: tasks.routes[0].topic: is for sink kafka; sink nats uses subject`},
		{"a NATS route without subject", `tasks:
  routes:
    - name: n
      sink: nats
`, nil, `config.yaml:3: tasks.routes[0].subject: is required for sink nats`},
		{"a template naming an unknown field", `tasks:
  routes:
    - name: a
      sink: nats
      subject: reten.{op}
    - name: b
      sink: nats
      subject: reten.{colour}
`, nil, `config.yaml:8: tasks.routes[1].subject: invalid template: unknown field "colour"; known fields are op, id, type, status, channel, lifecycle_status, activity_origin, commerce_external_id`},
		{"a subject with a wildcard", `tasks:
  routes: [{name: a, sink: nats, subject: "reten.*.{op}"}]
`, nil, `config.yaml:2: tasks.routes[0].subject: "reten.*.x" is not a valid NATS subject to publish to: wildcards are not allowed`},
		{"duplicate route names", `tasks:
  routes:
    - name: a
      sink: nats
      subject: x
    - name: a
      sink: nats
      subject: y
`, nil, `config.yaml:6: tasks.routes[1].name: duplicate route name "a" (first at line 3)`},
		{"no routes", "tasks:\n  interval: 5s\n", nil,
			`config.yaml:1: tasks.routes: at least one route is required`},
		{"an unknown when field", `tasks:
  routes:
    - name: a
      sink: nats
      subject: x
      when:
        colour: [red]
`, nil, `config.yaml:7: tasks.routes[0].when.colour: unknown field; known fields are op, id, type, status, channel, lifecycle_status, activity_origin, commerce_external_id`},
		{"a bad op value", `tasks:
  routes:
    - name: a
      sink: nats
      subject: x
      when: {op: [created, removed]}
`, nil, `config.yaml:6: tasks.routes[0].when.op[1]: must be one of created, updated, deleted, dispatched, got "removed"`},
		{"a route feeding the results input", `tasks:
  routes: [{name: a, sink: nats, subject: "reten.results.{op}"}]
results:
  dead_letter: reten.dlq
`, nil, `config.yaml:2: tasks.routes[0].subject: "reten.results.{op}" overlaps results.subject "reten.results.>": task events would be read back as results`},
		{"a two-fields-in-one-token route feeding the results input", `tasks:
  routes: [{name: a, sink: nats, subject: "reten.results.{op}_{channel}"}]
results:
  subject: reten.results.*
  dead_letter: reten.dlq
`, nil, `config.yaml:2: tasks.routes[0].subject: "reten.results.{op}_{channel}" overlaps results.subject "reten.results.*": task events would be read back as results`},
		{"a bad stream size", "nats:\n  streams: {max_bytes: 1 GB-ish}\n", nil,
			`config.yaml:2: nats.streams.max_bytes: want a size like 1MiB, 512KiB or 1048576, got "1 GB-ish"`},
		{"the results input named like the dead-letter stream", "results:\n  stream: RETEN_DLQ\n  dead_letter: reten.dlq\n", nil,
			`config.yaml:2: results.stream: "RETEN_DLQ" is the stream the relay creates for its own task events, dead letters or outcomes; name the input's stream differently`},
		{"an unbounded stream age", "nats:\n  streams: {max_age: 0s}\n", nil,
			`config.yaml:2: nats.streams.max_age: must be >= 1m, got 0s`},
		{"a bad stream storage and fallback", "nats:\n  streams:\n    storage: disk\n    uncaptured_tasks: drop\n", nil,
			"config.yaml:3: nats.streams.storage: must be one of file, memory, got \"disk\"\nconfig.yaml:4: nats.streams.uncaptured_tasks: must be one of create, core, got \"drop\""},
		{"results without dead letter", "results:\n  subject: in.>\n", nil,
			`config.yaml:1: results.dead_letter: is required (a subject for messages that cannot be delivered)`},
		{"a dead letter subject overlapping the input", "results:\n  subject: in.*.x\n  dead_letter: in.dlq.>\n", nil,
			`config.yaml:3: results.dead_letter: "in.dlq.>" is not a valid NATS subject to publish to: wildcards are not allowed`},
		{"a dead letter captured by the input wildcard", "results:\n  subject: in.*\n  dead_letter: in.dlq\n", nil,
			`config.yaml:3: results.dead_letter: "in.dlq" overlaps results.subject "in.*": it would be read back as input`},
		{"a Kafka topic key on a NATS source", "results:\n  topic: r\n  dead_letter: dlq\n", nil,
			`config.yaml:2: results.topic: is for source kafka; source nats uses subject, stream and durable`},
		{"a bad backoff", `results:
  dead_letter: dlq
  backoff: {initial: 2s, max: 1s}
`, nil, `config.yaml:3: results.backoff.max: must be >= results.backoff.initial (2s), got 1s`},
		{"a bad on_conflict", "results:\n  dead_letter: dlq\n  on_conflict: retry\n", nil,
			`config.yaml:3: results.on_conflict: must be one of ack, dead_letter, got "retry"`},
		{"results from Kafka without a topic", "kafka:\n  brokers: [k:9092]\nresults:\n  source: kafka\n  dead_letter: dlq\n", nil,
			`config.yaml:3: results.topic: is required for source kafka`},
		{"a Kafka dead letter topic equal to the input", "kafka:\n  brokers: [k:9092]\nresults:\n  source: kafka\n  topic: in\n  dead_letter: in\n", nil,
			`config.yaml:6: results.dead_letter: must differ from results.topic "in"`},
		{"a max_share that is not a number", `tasks:
  delete_guard: {max_share: NaN}
  routes: [{name: a, sink: nats, subject: x}]
`, nil, `config.yaml:2: tasks.delete_guard.max_share: must be > 0 and <= 1, got NaN`},
		{"a bad listen address", "http:\n  listen: localhost\n", nil,
			`config.yaml:2: http.listen: want host:port, got "localhost"`},
		{"a bad log format", "log:\n  format: xml\n", nil,
			`config.yaml:2: log.format: must be one of auto, json, console, got "xml"`},
		{"an unterminated variable", "reten:\n  url: ${RETEN_URL\n", nil,
			`config.yaml:2: reten.url: unterminated ${ in "${RETEN_URL"`},
		{"a required variable that is unset", "reten:\n  api_key: ${RETEN_API_KEY:?set your key}\n", nil,
			`config.yaml:2: reten.api_key: environment variable RETEN_API_KEY: set your key`},
		{"a variable expanding to a bad value", "tasks:\n  interval: ${POLL}\n  routes: [{name: a, sink: nats, subject: x}]\n", env{"POLL": "soon"},
			`config.yaml:2: tasks.interval: want a duration like 30s or 5m (or "off"), got "soon" (set by ${POLL})`},
		{"merge keys", "base: &b {level: info}\nlog:\n  <<: *b\n", nil,
			"config.yaml:1: base: unknown key; known keys are reten, nats, kafka, tasks, results, dispatch, http, log\n" +
				"config.yaml:3: log.<<: merge keys are not supported"},
		{"several problems, all reported in line order", `log:
  level: loud
  format: xml
http:
  listen: nowhere
`, nil, "config.yaml:2: log.level: must be one of debug, info, warn, error, got \"loud\"\n" +
			"config.yaml:3: log.format: must be one of auto, json, console, got \"xml\"\n" +
			"config.yaml:5: http.listen: want host:port, got \"nowhere\""},
		{"several decode errors at once", `reten:
  timeout: soon
kafka:
  create_topics: perhaps
`, nil, "config.yaml:2: reten.timeout: want a duration like 30s or 5m, got \"soon\"\n" +
			"config.yaml:4: kafka.create_topics: want true or false, got \"perhaps\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Load("config.yaml", []byte(tt.yaml), tt.env.lookup)
			if err == nil {
				t.Fatalf("Load succeeded, want error:\n%s", tt.want)
			}
			if cfg != nil {
				t.Errorf("Load returned a config with the error")
			}
			if got := err.Error(); got != tt.want {
				t.Fatalf("Load error:\n%s\nwant:\n%s", got, tt.want)
			}
			var errs config.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T, want config.Errors", err)
			}
		})
	}
}
