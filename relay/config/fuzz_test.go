package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/reten/reten-relay/relay/config"
)

// prefix is what every problem must start with: FILE:LINE: FIELD:
var prefix = regexp.MustCompile(`^f\.yaml:[1-9][0-9]*: [^\n]+?: [^\n]+$`)

func FuzzLoad(f *testing.F) {
	paths, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(paths) == 0 {
		f.Fatalf("no seed corpus in testdata: %v", err)
	}
	paths = append(paths, "../../config.yaml")
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(""))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("tasks:\n  routes: [{name: a, sink: nats, subject: \"${X:-x}.{op}\"}]\n"))
	getenv := env{"RETEN_API_KEY": "rtn_sk_fuzz", "X": "x"}.lookup
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := config.Load("f.yaml", data, getenv)
		if err == nil {
			if cfg == nil {
				t.Fatal("nil config without error")
			}
			if cfg.Tasks != nil {
				if _, err := cfg.Tasks.NewRouter(); err != nil {
					t.Fatalf("a valid config gives a bad router: %v", err)
				}
			}
			return
		}
		var errs config.Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("error is not config.Errors: %v", err)
		}
		for _, e := range errs {
			if !prefix.MatchString(e.Error()) || e.Line < 1 {
				t.Fatalf("error without FILE:LINE: FIELD: prefix: %q", e.Error())
			}
		}
	})
}
