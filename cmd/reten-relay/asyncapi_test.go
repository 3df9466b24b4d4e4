package main

import (
	"os"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/reten/reten-relay/relay/config"
)

// TestAsyncAPI_DescribesEveryShippedSubject: a subscriber reading schema/asyncapi.yaml finds
// every subject the shipped config.yaml publishes to, with the content type on the wire.
func TestAsyncAPI_DescribesEveryShippedSubject(t *testing.T) {
	raw, err := os.ReadFile("../../schema/asyncapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Channels map[string]struct {
			Address  string `yaml:"address"`
			Messages map[string]struct {
				ContentType string `yaml:"contentType"`
				Payload     struct {
					Ref string `yaml:"$ref"`
				} `yaml:"payload"`
			} `yaml:"messages"`
		} `yaml:"channels"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	addresses := map[string]bool{}
	for name, ch := range doc.Channels {
		addresses[ch.Address] = true
		for _, m := range ch.Messages {
			if m.Payload.Ref == "./jsonschema/task-event.schema.json" && m.ContentType != "application/cloudevents+json" {
				t.Errorf("channel %s: task events are structured CloudEvents, content type %q", name, m.ContentType)
			}
		}
	}
	cfg, err := config.LoadFile("../../config.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{cfg.Results.Subject, cfg.Results.DeadLetter, cfg.Results.Outcomes}
	for _, r := range cfg.Tasks.Routes {
		want = append(want, r.Destination())
	}
	for _, a := range want {
		if !addresses[a] {
			t.Errorf("asyncapi.yaml has no channel for %s", a)
		}
	}
}
