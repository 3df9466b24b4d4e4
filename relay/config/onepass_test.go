package config_test

import (
	"testing"

	"github.com/reten/reten-relay/relay/config"
)

func TestLoad_ReportsDecodingAndValidationProblemsInOnePass(t *testing.T) {
	yaml := `reten:
  url: https://api.reten.ai
  api_key: ${RETEN_API_KEY}
  timeout: soon
nats:
  url: ${NATS_URL}
tasks:
  page_size: 500
  routes: [{name: a, sink: nats, subject: "x.{nope}"}]
http: {listen: nowhere}
`
	_, err := config.Load("config.yaml", []byte(yaml), env{"NATS_URL": "http://nats:4222"}.lookup)
	want := `config.yaml:3: reten.api_key: is required when reten.url is not "simulator" (set by ${RETEN_API_KEY})
config.yaml:4: reten.timeout: want a duration like 30s or 5m, got "soon"
config.yaml:6: nats.url: must be "embedded" or a nats://, tls://, ws:// or wss:// URL, got "http://nats:4222" (set by ${NATS_URL})
config.yaml:8: tasks.page_size: must be between 1 and 100, got 500
config.yaml:9: tasks.routes[0].subject: invalid template: unknown field "nope"; known fields are op, id, type, status, channel, lifecycle_status, activity_origin, commerce_external_id
config.yaml:10: http.listen: want host:port, got "nowhere"`
	if err == nil || err.Error() != want {
		t.Errorf("got:\n%v\nwant:\n%s", err, want)
	}
}
