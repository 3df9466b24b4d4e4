package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
)

func TestCLI_EveryCommandExplainsItselfWithH(t *testing.T) {
	for _, c := range commands() {
		for _, args := range [][]string{append(strings.Fields(c.name), "-h"), append([]string{"help"}, strings.Fields(c.name)...)} {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				var stdout, stderr bytes.Buffer
				code := run(context.Background(), args, &stdout, &stderr, func(string) (string, bool) { return "", false })
				out := stdout.String()
				if code != exitOK || stderr.Len() > 0 {
					t.Fatalf("exit %d, stderr %q", code, stderr.String())
				}
				for _, want := range []string{c.purpose, "reten-relay " + c.name, "Example:\n  " + c.example} {
					if !strings.Contains(out, want) {
						t.Errorf("help lacks %q:\n%s", want, out)
					}
				}
				// The synopsis (and so the README's table) names every flag.
				for _, m := range regexp.MustCompile(`(?m)^  (-[a-z-]+)`).FindAllStringSubmatch(out, -1) {
					if !strings.Contains(c.args, "["+m[1]) {
						t.Errorf("flag %s is missing from the synopsis %q", m[1], c.args)
					}
				}
			})
		}
	}
}

func TestCLI_UsageMistakesExit2WithAHint(t *testing.T) {
	for _, args := range [][]string{{"run", "-nope"}, {"run", "extra"}, {"help", "nope"}, {"nope"}, {}, {"routes"}, {"dlq"}} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr, func(string) (string, bool) { return "", false }); code != exitUsage || stderr.Len() == 0 {
			t.Errorf("%q: exit %d, stderr %q", args, code, stderr.String())
		}
	}
}

func TestCLI_FlagsMayFollowPositionalArguments(t *testing.T) {
	fs := newFlags("routes")
	op := fs.String("op", "", "")
	cfg := fs.String("config", "", "")
	pos, _, ok := parseFlags(fs, []string{"-config", "c.yaml", "task.json", "-op", "created", "--", "-x"}, &bytes.Buffer{}, &bytes.Buffer{})
	if !ok || *op != "created" || *cfg != "c.yaml" || strings.Join(pos, " ") != "task.json -x" {
		t.Errorf("got ok=%v op=%q config=%q positional=%q", ok, *op, *cfg, pos)
	}
}

func TestREADME_CommandTableIsTheCLIs(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), commandTable()) {
		t.Errorf("README's command table differs from the CLI's; it should read:\n%s", commandTable())
	}
}
