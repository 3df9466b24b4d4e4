package main

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/reten/reten-relay/relay/config"
	"github.com/reten/reten-relay/relay/results"
	"github.com/reten/reten-relay/schema"
	"github.com/reten/reten-relay/schema/schematest"
)

// The README is for three readers who copy from it: every command and sample in it is
// checked here against the code.

func readmeBlocks(t *testing.T, lang string) []string {
	t.Helper()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)```" + lang + "\n(.*?)```")
	var out []string
	for _, m := range re.FindAllStringSubmatch(string(raw), -1) {
		out = append(out, m[1])
	}
	if len(out) == 0 {
		t.Fatalf("README has no %s blocks", lang)
	}
	return out
}

func TestREADME_QuickstartIsWhatCIRuns(t *testing.T) {
	sh := readmeBlocks(t, "sh")[0]
	if !strings.Contains(sh, "go run ./cmd/reten-relay demo") {
		t.Errorf("quickstart lacks the demo command:\n%s", sh)
	}
	ci, err := os.ReadFile("../../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	testCmd := regexp.MustCompile(`go test[^\n]*`).FindString(sh)
	if testCmd == "" || !strings.Contains(string(ci), testCmd) {
		t.Errorf("README's test command %q is not what .ci/run runs", testCmd)
	}
}

func TestREADME_CommandsExist(t *testing.T) {
	raw, _ := os.ReadFile("../../README.md")
	for _, m := range regexp.MustCompile("`reten-relay ([a-z]+)").FindAllStringSubmatch(string(raw), -1) {
		if !strings.Contains(generalUsage(), "reten-relay "+m[1]) {
			t.Errorf("README names `reten-relay %s`, which the CLI does not have", m[1])
		}
	}
	for _, block := range readmeBlocks(t, "sh") {
		for _, m := range regexp.MustCompile(`reten-relay ([a-z]+)`).FindAllStringSubmatch(block, -1) {
			if !strings.Contains(generalUsage(), "reten-relay "+m[1]) {
				t.Errorf("README runs `reten-relay %s`, which the CLI does not have", m[1])
			}
		}
	}
}

func TestREADME_ConfigSampleIsTheShippedConfigAndLoads(t *testing.T) {
	file, err := os.ReadFile("../../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, block := range readmeBlocks(t, "yaml") {
		if block == string(file) {
			found = true
		}
	}
	if !found {
		t.Fatal("the README's configuration reference differs from config.yaml")
	}
	env := map[string]string{"RETEN_URL": "prod", "RETEN_API_KEY": "rtn_sk_readme", "NATS_URL": "nats://nats.example:4222"}
	if _, err := config.Load("config.yaml", file, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatalf("the README's `run against Reten` environment does not load the shipped config: %v", err)
	}
}

func TestREADME_JSONSamplesMatchTheSchemas(t *testing.T) {
	types := map[string]schema.ResultType{"SALE_COMPLETED": {Code: "SALE_COMPLETED"}}
	for _, block := range readmeBlocks(t, "json") {
		var probe map[string]any
		if err := json.Unmarshal([]byte(block), &probe); err != nil {
			t.Errorf("README JSON sample does not parse: %v\n%s", err, block)
			continue
		}
		switch {
		case probe["specversion"] != nil:
			if err := schematest.New(t, schematest.TaskEvent).Validate([]byte(block)); err != nil {
				t.Errorf("event sample: %v", err)
			}
		case probe["reason"] != nil:
			if err := schematest.New(t, schematest.DeadLetter).Validate([]byte(block)); err != nil {
				t.Errorf("dead letter sample: %v", err)
			}
		case probe["task_result"] != nil:
			if err := schematest.New(t, schematest.ResultMessage).Validate([]byte(block)); err != nil {
				t.Errorf("result sample: %v", err)
			}
			if _, rej := results.Validate([]byte(block), types, time.Date(2026, 4, 12, 0, 0, 0, 0, time.UTC)); rej != nil {
				t.Errorf("the relay would dead-letter the README's result sample: %+v", rej)
			}
		default:
			t.Errorf("unrecognised JSON sample:\n%s", block)
		}
	}
}
