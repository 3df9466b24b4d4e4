package routing_test

import (
	"errors"
	"testing"

	"github.com/reten/reten-relay/relay/routing"
	"github.com/reten/reten-relay/schema"
)

func TestParseTemplate_RejectsBadTemplates(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"an empty template", "", "invalid template: empty"},
		{"an unknown field", "reten.{colour}", "invalid template: unknown field \"colour\"; known fields are op, id, type, status, channel, lifecycle_status, activity_origin, commerce_external_id"},
		{"an unclosed brace", "reten.{op", "invalid template: unclosed '{' at offset 6"},
		{"a nested brace", "reten.{o{p}}", "invalid template: unclosed '{' at offset 6"},
		{"a stray closing brace", "reten.op}", "invalid template: unexpected '}' at offset 8"},
		{"an empty placeholder", "reten.{}", "invalid template: unknown field \"\"; known fields are op, id, type, status, channel, lifecycle_status, activity_origin, commerce_external_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := routing.ParseTemplate(tt.in)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("ParseTemplate(%q) error = %v, want %q", tt.in, err, tt.want)
			}
			if !errors.Is(err, routing.ErrTemplate) {
				t.Fatalf("error %v does not wrap ErrTemplate", err)
			}
		})
	}
}

func TestTemplate_RendersEveryField(t *testing.T) {
	ev := event(t, schema.OpUpdated, "t-1", sampleTask, sampleTask)
	tests := []struct{ tmpl, want string }{
		{"reten.tasks", "reten.tasks"},
		{"reten.tasks.{op}.{channel}", "reten.tasks.updated.WHATSAPP"},
		{"{id}", "t-1"},
		{"x.{type}.{status}.{lifecycle_status}.{activity_origin}.{commerce_external_id}", "x.TASK.PENDING.SCHEDULED.ACTIVITY.COM-001"},
		{"pre-{op}-post", "pre-updated-post"},
		{"{ op }", "updated"},
	}
	for _, tt := range tests {
		t.Run(tt.tmpl, func(t *testing.T) {
			tmpl, err := routing.ParseTemplate(tt.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			if got := tmpl.Render(routing.ValuesOf(ev)); got != tt.want {
				t.Fatalf("Render = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTemplate_EscapesValuesSoTheyStayOneToken(t *testing.T) {
	tests := []struct {
		name, channel, want string
	}{
		{"dots", `"a.b.c"`, "t.a_b_c.x"},
		{"spaces and tabs", `"call center\t1"`, "t.call_center_1.x"},
		{"a star wildcard", `"*"`, "t._.x"},
		{"a full wildcard", `">"`, "t._.x"},
		{"unicode letters", `"teléfono"`, "t.tel_fono.x"},
		{"percent and slash", `"a%2E/b"`, "t.a_2E_b.x"},
		{"an empty string", `""`, "t._.x"},
		{"a missing field", `null`, "t._.x"},
		{"a number", `42`, "t.42.x"},
		{"a decimal number", `4.5`, "t.4_5.x"},
		{"a boolean", `true`, "t.true.x"},
		{"an object", `{"a":1}`, "t._.x"},
		{"hyphens and underscores", `"WHATS_APP-2"`, "t.WHATS_APP-2.x"},
	}
	tmpl, err := routing.ParseTemplate("t.{channel}.x")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := event(t, schema.OpCreated, "t-1", `{"channel":`+tt.channel+`}`, "")
			if got := tmpl.Render(routing.ValuesOf(ev)); got != tt.want {
				t.Fatalf("Render = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTemplate_RenderRawKeepsValuesForKeys(t *testing.T) {
	tmpl, err := routing.ParseTemplate("{commerce_external_id}/{id}")
	if err != nil {
		t.Fatal(err)
	}
	ev := event(t, schema.OpCreated, "t.1", `{"commerceExternalId":"COM 1.2"}`, "")
	if got, want := tmpl.RenderRaw(routing.ValuesOf(ev)), "COM 1.2/t.1"; got != want {
		t.Fatalf("RenderRaw = %q, want %q", got, want)
	}
}

func TestTemplate_LiteralAndFields(t *testing.T) {
	tmpl, err := routing.ParseTemplate("reten.{op}.x{channel}")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tmpl.Literal("*"), "reten.*.x*"; got != want {
		t.Fatalf("Literal = %q, want %q", got, want)
	}
	fs := tmpl.Fields()
	if len(fs) != 2 || fs[0] != routing.FieldOp || fs[1] != routing.FieldChannel {
		t.Fatalf("Fields = %v", fs)
	}
	if tmpl.String() != "reten.{op}.x{channel}" {
		t.Fatalf("String = %q", tmpl.String())
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{"": "_", "ok-1_A": "ok-1_A", "a.b": "a_b", "\xff": "_", "日本": "__"} {
		if got := routing.Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTemplate_StreamSubjectWildcardsEveryTokenWithAPlaceholder(t *testing.T) {
	tests := map[string]string{
		"reten.tasks.{op}.{channel}":  "reten.tasks.*.*",
		"reten.tasks.{op}_{channel}":  "reten.tasks.*",
		"reten.pending.{id}":          "reten.pending.*",
		"reten.x{op}y.fixed":          "reten.*.fixed",
		"reten.dlq.results":           "reten.dlq.results",
		"{op}.tail":                   "*.tail",
		"a.{ op }.{status}-{channel}": "a.*.*",
	}
	for src, want := range tests {
		tmpl, err := routing.ParseTemplate(src)
		if err != nil {
			t.Fatalf("ParseTemplate(%q): %v", src, err)
		}
		if got := tmpl.StreamSubject(); got != want {
			t.Errorf("StreamSubject(%q) = %q, want %q", src, got, want)
		}
	}
}
