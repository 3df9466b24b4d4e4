package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// LoadFile reads the file at path and loads it with Load. An unreadable file is an error
// that is not Errors.
func LoadFile(path string, getenv func(string) (string, bool)) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Load(path, data, getenv)
}

// Load parses data, read from file (used in messages only), into DefaultConfig, expands
// environment variables through getenv (nil: none are set) and validates the result. On
// any problem it returns a nil Config and an Errors listing every problem, ordered by line.
func Load(file string, data []byte, getenv func(string) (string, bool)) (*Config, error) {
	src := &source{file: file, lines: map[string]int{}}
	root, errs := parse(file, data)
	if len(errs) > 0 {
		return nil, errs
	}
	cfg := DefaultConfig()
	cfg.src = src
	d := &decoder{src: src, getenv: getenv}
	d.decode(root, "", reflect.ValueOf(cfg).Elem())
	// Validate even when decoding failed, so one pass reports every problem. A key that
	// did not decode keeps its default; what validation says about it (or about what lies
	// under it) would only repeat the decoding problem, so it is left out.
	errs = append(errs, d.errs...)
	var verrs Errors
	if err := cfg.Validate(); err != nil && !errors.As(err, &verrs) {
		return nil, err
	}
	for _, ve := range verrs {
		if !underAny(ve.Field, d.errs) {
			errs = append(errs, ve)
		}
	}
	if len(errs) > 0 {
		return nil, errs.sorted()
	}
	return cfg, nil
}

// underAny reports whether field is one of the fields of errs or lies under one of them.
func underAny(field string, errs Errors) bool {
	for _, e := range errs {
		if field == e.Field || strings.HasPrefix(field, e.Field+".") || strings.HasPrefix(field, e.Field+"[") {
			return true
		}
	}
	return false
}

// yamlLine finds the line in yaml.v3's own messages ("yaml: line 3: ...").
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parse parses exactly one YAML document whose root is a mapping.
func parse(file string, data []byte) (root *yaml.Node, errs Errors) {
	fail := func(line int, field, format string, args ...any) {
		errs = append(errs, &Error{File: file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	syntax := func(err error) {
		line, msg := 1, err.Error()
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		} else {
			msg = strings.TrimPrefix(msg, "yaml: ")
		}
		fail(line, "yaml", "%s", msg)
	}
	defer func() {
		// yaml.v3 has panicked on hostile input before; a config must never crash the relay.
		if r := recover(); r != nil {
			root, errs = nil, Errors{{File: file, Line: 1, Field: "yaml", Msg: fmt.Sprintf("cannot parse: %v", r)}}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			fail(1, "config", "the file is empty; want sections such as reten, nats, tasks, results")
		} else {
			syntax(err)
		}
		return nil, errs
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		fail(extra.Line, "config", "only one YAML document is allowed")
		return nil, errs
	case !errors.Is(err, io.EOF):
		syntax(err)
		return nil, errs
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || isNull(doc.Content[0]) {
		fail(1, "config", "the file is empty; want sections such as reten, nats, tasks, results")
		return nil, errs
	}
	root = doc.Content[0]
	if root.Kind != yaml.MappingNode {
		fail(root.Line, "config", "want a mapping of sections (reten, nats, tasks, ...), got %s", describe(root))
		return nil, errs
	}
	return root, nil
}
