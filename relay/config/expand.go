package config

import (
	"fmt"
	"strings"
)

// expand replaces ${VAR}, ${VAR:-default} and ${VAR:?message} in s (see the package doc).
// getenv may be nil: every variable is then unset.
func expand(s string, getenv func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		if i > 0 && s[i-1] == '$' {
			// "$${" is an escaped "${".
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("unterminated ${ in %q", s[i:])
		}
		expr := s[i+2 : i+end]
		s = s[i+end+1:]
		val, err := expandOne(expr, getenv)
		if err != nil {
			return "", err
		}
		b.WriteString(val)
	}
}

func expandOne(expr string, getenv func(string) (string, bool)) (string, error) {
	name, op, arg := expr, "", ""
	if j := strings.IndexByte(expr, ':'); j >= 0 {
		name = expr[:j]
		rest := expr[j+1:]
		if rest == "" || (rest[0] != '-' && rest[0] != '?') {
			return "", fmt.Errorf("bad variable reference ${%s}: use ${VAR}, ${VAR:-default} or ${VAR:?message}", expr)
		}
		op, arg = rest[:1], rest[1:]
	}
	if !validVarName(name) {
		return "", fmt.Errorf("bad variable name %q in ${%s}", name, expr)
	}
	var val string
	if getenv != nil {
		val, _ = getenv(name)
	}
	switch {
	case val != "":
		return val, nil
	case op == "-":
		return arg, nil
	case op == "?":
		if arg == "" {
			arg = "is not set"
		}
		return "", fmt.Errorf("environment variable %s: %s", name, arg)
	}
	return "", nil
}

func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		letter := r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !letter && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}
