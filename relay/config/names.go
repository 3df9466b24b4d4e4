package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"unicode"
)

// natsSubject checks a NATS subject: non-empty dot-separated tokens without whitespace;
// with wildcards false, '*' and '>' are refused, else they must be whole tokens and '>'
// the last one.
func natsSubject(s string, wildcards bool) error {
	if s == "" {
		return fmt.Errorf("is empty")
	}
	tokens := strings.Split(s, ".")
	for i, tok := range tokens {
		switch {
		case tok == "":
			return fmt.Errorf("%q is not a valid NATS subject: empty token", s)
		case strings.IndexFunc(tok, unicode.IsSpace) >= 0 || strings.ContainsRune(tok, 0):
			return fmt.Errorf("%q is not a valid NATS subject: whitespace in a token", s)
		case !wildcards && strings.ContainsAny(tok, "*>"):
			return fmt.Errorf("%q is not a valid NATS subject to publish to: wildcards are not allowed", s)
		case (tok == ">" && i != len(tokens)-1) || (tok != ">" && tok != "*" && strings.ContainsAny(tok, "*>")):
			return fmt.Errorf("%q is not a valid NATS subject: '*' and '>' must be whole tokens, '>' the last", s)
		}
	}
	return nil
}

// kafkaTopic checks a Kafka topic name.
func kafkaTopic(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("is empty")
	case len(s) > 249:
		return fmt.Errorf("%q is not a valid Kafka topic: longer than 249 characters", s)
	case s == "." || s == "..":
		return fmt.Errorf("%q is not a valid Kafka topic", s)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("%q is not a valid Kafka topic: only letters, digits, '.', '_' and '-' are allowed", s)
		}
	}
	return nil
}

// streamName checks a JetStream stream or consumer name.
func streamName(s string) error {
	if s == "" {
		return fmt.Errorf("is empty")
	}
	if strings.ContainsAny(s, ".*>/\\") || strings.IndexFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}) >= 0 {
		return fmt.Errorf("%q is not a valid name: no whitespace, '.', '*', '>', '/' or '\\'", s)
	}
	return nil
}

// hostPort checks a host:port address; the host may be empty (all interfaces).
func hostPort(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("want host:port, got %q", s)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("want host:port with a port 0..65535, got %q", s)
	}
	return nil
}

// redactURL hides the password of a URL, so that it never reaches an error message.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		if i := strings.LastIndexByte(s, '@'); i >= 0 {
			return "…@" + s[i+1:]
		}
		return s
	}
	return u.Redacted()
}

// retenURL checks reten.url.
func retenURL(s string) error {
	switch s {
	case RetenSimulator, "prod", "staging", "dev":
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf(`must be "simulator", "prod", "staging", "dev" or an absolute http(s) URL, got %q`, redactURL(s))
	}
	if u.User != nil {
		return fmt.Errorf("must not contain credentials (use reten.api_key), got %q", redactURL(s))
	}
	return nil
}

// natsURL checks nats.url: "embedded" or comma-separated server URLs.
func natsURL(s string) error {
	if s == NATSEmbedded {
		return nil
	}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		u, err := url.Parse(part)
		if err != nil || u.Host == "" {
			return fmt.Errorf(`must be "embedded" or a nats:// URL, got %q`, redactURL(part))
		}
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			return fmt.Errorf(`must be "embedded" or a nats://, tls://, ws:// or wss:// URL, got %q`, redactURL(part))
		}
	}
	return nil
}
