package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNewLogger_NoColoursOutsideATerminalAndAutoIsJSONThere(t *testing.T) {
	for _, tc := range []struct {
		format   string
		wantJSON bool
	}{{"auto", true}, {"json", true}, {"console", false}} {
		t.Run(tc.format, func(t *testing.T) {
			f, err := os.Create(filepath.Join(t.TempDir(), "log"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			log, err := newLogger(f, "info", tc.format)
			if err != nil {
				t.Fatal(err)
			}
			log.Info().Stringer("duration", 1500*time.Millisecond).Msg("hello")
			b, _ := os.ReadFile(f.Name())
			if strings.Contains(string(b), "\x1b[") {
				t.Errorf("ANSI escape codes in a file: %q", b)
			}
			if got := json.Valid([]byte(strings.TrimSpace(string(b)))); got != tc.wantJSON {
				t.Errorf("JSON %v, want %v: %q", got, tc.wantJSON, b)
			}
		})
	}
}
