package config

import (
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// decodeSlice decodes a list. A list of strings may also be one comma-separated scalar.
func (d *decoder) decodeSlice(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind == yaml.ScalarNode && v.Type().Elem().Kind() == reflect.String {
		s, ok := d.scalar(n, path, "a list")
		if !ok {
			return
		}
		out := reflect.MakeSlice(v.Type(), 0, 1)
		for part := range strings.SplitSeq(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = reflect.Append(out, reflect.ValueOf(part).Convert(v.Type().Elem()))
			}
		}
		v.Set(out)
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "want a list, got %s", describe(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		child := fmt.Sprintf("%s[%d]", path, i)
		d.src.lines[child] = item.Line
		if isNull(item) && v.Type().Elem().Kind() != reflect.String {
			d.fail(item, child, "empty list item")
			continue
		}
		d.decode(item, child, out.Index(i))
	}
	v.Set(out)
}

// decodeMap decodes a mapping with string keys.
func (d *decoder) decodeMap(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping, got %s", describe(n))
		return
	}
	out := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key, ok := d.key(k, path)
		if !ok {
			continue
		}
		child := join(path, key)
		if seen[key] != 0 {
			d.fail(k, child, "duplicate key (first at line %d)", seen[key])
			continue
		}
		seen[key] = k.Line
		d.src.lines[child] = k.Line
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, child, elem)
		out.SetMapIndex(reflect.ValueOf(key), elem)
	}
	v.Set(out)
}
