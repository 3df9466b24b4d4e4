package config_test

import (
	"errors"
	"io/fs"
	"reflect"
	"testing"
	"time"

	"github.com/reten/reten-relay/relay/config"
	"github.com/reten/reten-relay/relay/routing"
)

func TestLoadFile_ShippedConfigLoads(t *testing.T) {
	tests := []struct {
		name                 string
		env                  env
		wantURL, wantNATS    string
		wantKey, wantBaseURL string
	}{
		{"with an empty environment it runs on the simulator and embedded NATS", env{},
			"simulator", "embedded", "", ""},
		{"the environment points it at Reten and an external NATS",
			env{"RETEN_URL": "https://api-staging.reten.ai", "RETEN_API_KEY": "rtn_sk_abc", "NATS_URL": "nats://nats:4222"},
			"https://api-staging.reten.ai", "nats://nats:4222", "rtn_sk_abc", "https://api-staging.reten.ai"},
		{"a shortcut URL", env{"RETEN_URL": "prod", "RETEN_API_KEY": "rtn_sk_abc"},
			"prod", "embedded", "rtn_sk_abc", config.RetenProdURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.LoadFile("../../config.yaml", tt.env.lookup)
			if err != nil {
				t.Fatalf("LoadFile: %v", err)
			}
			if cfg.Reten.URL != tt.wantURL || cfg.NATS.URL != tt.wantNATS ||
				cfg.Reten.APIKey.Reveal() != tt.wantKey || cfg.Reten.BaseURL() != tt.wantBaseURL {
				t.Fatalf("got reten.url %q, nats.url %q, key %q, base %q", cfg.Reten.URL, cfg.NATS.URL,
					cfg.Reten.APIKey.Reveal(), cfg.Reten.BaseURL())
			}
			if cfg.Tasks == nil || cfg.Results == nil {
				t.Fatal("the shipped config enables both pipelines")
			}
			if _, err := cfg.Tasks.NewRouter(); err != nil {
				t.Fatalf("NewRouter: %v", err)
			}
			if w := cfg.Warnings(); len(w) != 0 {
				t.Fatalf("Warnings = %v", w)
			}
		})
	}
}

func TestLoad_EmptySectionsKeepDefaults(t *testing.T) {
	cfg, err := config.LoadFile("testdata/minimal.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := config.DefaultConfig()
	want.Tasks = config.DefaultTasks()
	want.Tasks.Routes = []config.RouteConfig{{Name: "all", Sink: "nats", Subject: "reten.tasks.{op}"}}
	// Compare through the exported fields only.
	if !reflect.DeepEqual(*cfg.Tasks, *want.Tasks) || cfg.Reten != want.Reten || cfg.NATS != want.NATS ||
		cfg.HTTP != want.HTTP || cfg.Log != want.Log || cfg.Results != nil ||
		!reflect.DeepEqual(cfg.Kafka, want.Kafka) {
		t.Fatalf("got %+v\ntasks %+v", cfg, cfg.Tasks)
	}
}

func TestLoad_DecodesEveryKey(t *testing.T) {
	cfg, err := config.LoadFile("testdata/full.yaml", env{}.lookup)
	if err != nil {
		t.Fatal(err)
	}
	want := config.Config{
		Reten: config.RetenConfig{URL: "https://reten.example.com", APIKey: config.NewSecret("rtn_sk_test"), Timeout: 5 * time.Second},
		NATS: config.NATSConfig{URL: "nats://127.0.0.1:4222,nats://127.0.0.1:4223", Name: "relay-1",
			StoreDir: "./data/nats", EmbeddedHost: "127.0.0.1", EmbeddedPort: -1,
			Streams: config.StreamsConfig{MaxAge: 48 * time.Hour, MaxBytes: 512 << 20, Replicas: 3, Storage: "memory", UncapturedTasks: "core"}},
		Kafka: config.KafkaConfig{Brokers: []string{"127.0.0.1:9092", "[::1]:9093"}, CreateTopics: true,
			TopicPartitions: 3, ReplicationFactor: 1, ClientID: "relay-1"},
		Tasks: &config.TasksConfig{Interval: 10 * time.Second, PageSize: 50, Concurrency: 8,
			Query: map[string]string{"status": "PENDING"}, State: "/var/lib/relay/tasks.db", LeaseTTL: 4 * time.Second, Replica: "relay-a", EmitInitial: false, TombstoneTTL: 72 * time.Hour, MaxTasks: 50000,
			DeleteGuard: config.DeleteGuardConfig{MaxShare: 0.25, MinSnapshot: 0, ConfirmCycles: 2},
			Routes: []config.RouteConfig{
				{Name: "all", Sink: "nats", Subject: "reten.tasks.{op}.{channel}"},
				{Name: "to-kafka", Sink: "kafka", Topic: "reten-tasks-{channel}", Key: "{commerce_external_id}",
					When: map[string][]string{"op": {"created", "deleted"}, "channel": {"WHATSAPP", "SMS"}}},
			}},
		Results: &config.ResultsConfig{Source: "kafka", Subject: "reten.results.>", Stream: "RETEN_RESULTS",
			Durable: "reten-relay", Topic: "reten-results", Group: "relay", Concurrency: 64,
			DeadLetter: "reten-results-dlq", Outcomes: "reten-outcomes", OnConflict: "dead_letter",
			Backoff:           config.BackoffConfig{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond, MaxElapsed: time.Hour},
			AuthProbeInterval: time.Second, ResultTypesRefresh: time.Minute, AckWait: 45 * time.Second, StallAfter: 2 * time.Minute},
		HTTP: config.HTTPConfig{Listen: ":9090"},
		Log:  config.LogConfig{Level: "debug", Format: "json"},
	}
	if cfg.Reten != want.Reten || cfg.NATS != want.NATS || !reflect.DeepEqual(cfg.Kafka, want.Kafka) ||
		!reflect.DeepEqual(cfg.Tasks, want.Tasks) || !reflect.DeepEqual(cfg.Results, want.Results) ||
		cfg.HTTP != want.HTTP || cfg.Log != want.Log {
		t.Fatalf("got\n%s", cfg.Redacted())
	}
}

func TestLoad_AnchorsAndAliasesWork(t *testing.T) {
	cfg, err := config.LoadFile("testdata/anchors.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Tasks.Routes[1].When["status"]; !reflect.DeepEqual(got, []string{"PENDING"}) {
		t.Fatalf("aliased when = %v", got)
	}
}

func TestLoad_NullValuesKeepDefaultsAndEnableSections(t *testing.T) {
	cfg, err := config.Load("c.yaml", []byte("reten:\n  timeout:\nresults:\n  dead_letter: dlq\n  backoff:\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Reten.Timeout != 15*time.Second || cfg.Results == nil || cfg.Results.Backoff.Initial != 500*time.Millisecond || cfg.Tasks != nil {
		t.Fatalf("got %+v %+v", cfg.Reten, cfg.Results)
	}
}

func TestTasksConfig_NewRouterRoutesLikeTheConfigSays(t *testing.T) {
	cfg, err := config.LoadFile("testdata/full.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.Tasks.RoutingRoutes()
	want := []routing.Route{
		{Name: "all", Sink: "nats", Template: "reten.tasks.{op}.{channel}"},
		{Name: "to-kafka", Sink: "kafka", Template: "reten-tasks-{channel}", KeyTemplate: "{commerce_external_id}",
			When: map[string][]string{"op": {"created", "deleted"}, "channel": {"WHATSAPP", "SMS"}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("RoutingRoutes = %+v", got)
	}
	if _, err := cfg.Tasks.NewRouter(); err != nil {
		t.Fatal(err)
	}
}

func TestConfig_Warnings(t *testing.T) {
	cfg, err := config.Load("c.yaml", []byte("reten:\n  url: dev\n  api_key: abc123\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "c.yaml:1: config: neither tasks nor results is configured: the relay has nothing to do\n" +
		`c.yaml:3: reten.api_key: does not start with "rtn_sk_"; is it a Reten API key?`
	if got := cfg.Warnings().Error(); got != want {
		t.Fatalf("Warnings:\n%s\nwant:\n%s", got, want)
	}
}

func TestConfig_ValidateWorksOnConfigsBuiltInCode(t *testing.T) {
	cfg := config.DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("DefaultConfig does not validate: %v", err)
	}
	cfg.Log.Level = "loud"
	want := `config:0: log.level: must be one of debug, info, warn, error, got "loud"`
	if err := cfg.Validate(); err == nil || err.Error() != want {
		t.Fatalf("Validate = %v, want %s", err, want)
	}
}

func TestLoadFile_MissingFileIsNotAConfigError(t *testing.T) {
	_, err := config.LoadFile("testdata/nope.yaml", nil)
	if err == nil {
		t.Fatal("want an error")
	}
	var errs config.Errors
	if errors.As(err, &errs) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a missing file must not be config.Errors: %v", err)
	}
}
