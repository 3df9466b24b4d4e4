package config

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// source remembers the file and the line of every key decoded, and the environment
// variables each value came from, for error messages.
type source struct {
	file  string
	lines map[string]int
	vars  map[string][]string
}

// varRef finds the names in ${NAME}, ${NAME:-default} and ${NAME:?message}.
var varRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)`)

// fromEnv is what a message about path adds when its value came from the environment:
// the line alone would blame the file for what the environment said.
func (s *source) fromEnv(path string) string {
	if s == nil || len(s.vars[path]) == 0 {
		return ""
	}
	names := make([]string, len(s.vars[path]))
	for i, n := range s.vars[path] {
		names[i] = "${" + n + "}"
	}
	return " (set by " + strings.Join(names, ", ") + ")"
}

// line returns the line of path, or of its nearest ancestor present in the file (a key
// left at its default has no line of its own), or 1. Without a file it returns 0.
func (s *source) line(path string) int {
	if s == nil || len(s.lines) == 0 {
		return 0
	}
	for path != "" {
		if l, ok := s.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 1
}

// has reports whether path was written in the file.
func (s *source) has(path string) bool {
	if s == nil {
		return false
	}
	_, ok := s.lines[path]
	return ok
}

// maxNodes bounds the work of one decode, so that nested aliases cannot make it explode.
const maxNodes = 100_000

var (
	durationType = reflect.TypeFor[time.Duration]()
	secretType   = reflect.TypeFor[Secret]()
	byteSizeType = reflect.TypeFor[ByteSize]()
)

// decoder walks a yaml.v3 node tree into a Go value, strictly, recording lines.
type decoder struct {
	src    *source
	getenv func(string) (string, bool)
	errs   Errors
	nodes  int
}

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.src.file, Line: n.Line, Field: path, Msg: fmt.Sprintf(format, args...) + d.src.fromEnv(path)})
}

// join appends key to path; a key that is empty or holds characters other than letters,
// digits, '_', '-' and '<' is quoted, so a field path is never empty or ambiguous.
func join(path, key string) string {
	if key == "" || strings.IndexFunc(key, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '<')
	}) >= 0 {
		key = strconv.Quote(key)
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return strconv.Quote(n.Value)
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// decode decodes n into v. A null keeps v as it is (its default), except that a nil
// section pointer is allocated with the section's defaults: `tasks:` alone enables tasks.
func (d *decoder) decode(n *yaml.Node, path string, v reflect.Value) {
	d.nodes++
	if d.nodes == maxNodes {
		d.fail(n, path, "document too large (more than %d nodes, or aliases nested too deep)", maxNodes)
	}
	if d.nodes >= maxNodes {
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			d.fail(n, path, "unknown alias")
			return
		}
		d.decode(n.Alias, path, v)
		return
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
			if def, ok := v.Interface().(interface{ applyDefaults() }); ok {
				def.applyDefaults()
			}
		}
		v = v.Elem()
	}
	if isNull(n) {
		return
	}
	switch {
	case v.Type() == durationType:
		s, ok := d.scalar(n, path, "a duration like 30s")
		if !ok {
			return
		}
		if s == "off" && path == "tasks.interval" {
			v.SetInt(int64(IntervalOff))
			return
		}
		dur, err := time.ParseDuration(s)
		if err != nil {
			d.fail(n, path, "want a duration like 30s or 5m%s, got %q", offHint(path), s)
			return
		}
		v.SetInt(int64(dur))
		return
	case v.Type() == byteSizeType:
		s, ok := d.scalar(n, path, "a size like 1MiB")
		if !ok {
			return
		}
		size, err := ParseByteSize(s)
		if err != nil {
			d.fail(n, path, "%s", err)
			return
		}
		v.SetInt(int64(size))
		return
	case v.Type() == secretType:
		if s, ok := d.scalar(n, path, "a string"); ok {
			v.Set(reflect.ValueOf(NewSecret(s)))
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, path, v)
	case reflect.String:
		if s, ok := d.scalar(n, path, "a string"); ok {
			v.SetString(s)
		}
	case reflect.Int:
		s, ok := d.scalar(n, path, "an integer")
		if !ok {
			return
		}
		i, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			d.fail(n, path, "want an integer, got %q", s)
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		s, ok := d.scalar(n, path, "a number")
		if !ok {
			return
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			d.fail(n, path, "want a number, got %q", s)
			return
		}
		v.SetFloat(f)
	case reflect.Bool:
		s, ok := d.scalar(n, path, "true or false")
		if !ok {
			return
		}
		switch s {
		case "true", "True", "TRUE":
			v.SetBool(true)
		case "false", "False", "FALSE":
			v.SetBool(false)
		default:
			d.fail(n, path, "want true or false, got %q", s)
		}
	case reflect.Slice:
		d.decodeSlice(n, path, v)
	case reflect.Map:
		d.decodeMap(n, path, v)
	default:
		d.fail(n, path, "cannot decode into %s", v.Type())
	}
}

// scalar returns n's expanded value, or reports that n is not a scalar.
func (d *decoder) scalar(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "want %s, got %s", want, describe(n))
		return "", false
	}
	for _, m := range varRef.FindAllStringSubmatch(n.Value, -1) {
		if d.src.vars == nil {
			d.src.vars = map[string][]string{}
		}
		d.src.vars[path] = append(d.src.vars[path], m[1])
	}
	s, err := expand(n.Value, d.getenv)
	if err != nil {
		// The message names the variable already.
		d.errs = append(d.errs, &Error{File: d.src.file, Line: n.Line, Field: path, Msg: err.Error()})
		return "", false
	}
	return s, true
}

// decodeStruct decodes a mapping into the fields of v tagged `yaml:"name"`.
func (d *decoder) decodeStruct(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping, got %s", describe(n))
		return
	}
	t := v.Type()
	fields := map[string]int{}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		fields[name] = i
		names = append(names, name)
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key, ok := d.key(k, path)
		if !ok {
			continue
		}
		child := join(path, key)
		idx, known := fields[key]
		switch {
		case key == "<<":
			d.fail(k, child, "merge keys are not supported")
		case !known:
			d.fail(k, child, "unknown key; known keys are %s", strings.Join(names, ", "))
		case seen[key] != 0:
			d.fail(k, child, "duplicate key (first at line %d)", seen[key])
		default:
			seen[key] = k.Line
			d.src.lines[child] = k.Line
			d.decode(val, child, v.Field(idx))
		}
	}
}

// key returns a mapping key, which must be a plain scalar.
func (d *decoder) key(k *yaml.Node, path string) (string, bool) {
	if k.Kind == yaml.AliasNode && k.Alias != nil {
		k = k.Alias
	}
	if k.Kind != yaml.ScalarNode {
		d.fail(k, path, "keys must be strings, got %s", describe(k))
		return "", false
	}
	return k.Value, true
}

// offHint names the one duration that may also be "off".
func offHint(path string) string {
	if path == "tasks.interval" {
		return ` (or "off")`
	}
	return ""
}
