package reten

import "fmt"

// redacted is how an API key prints anywhere: logs, errors, JSON, %v, %#v.
const redacted = "rtn_sk_…redacted"

// APIKey is a Reten integration API key (rtn_sk_...). It never prints: every fmt verb,
// JSON and text marshalling show "rtn_sk_…redacted". Reveal returns the key itself, for the
// x-api-key header only.
type APIKey string

// Reveal returns the key. Use it only to authenticate a request.
func (k APIKey) Reveal() string { return string(k) }

// String implements fmt.Stringer.
func (k APIKey) String() string {
	if k == "" {
		return ""
	}
	return redacted
}

// GoString implements fmt.GoStringer, for %#v.
func (k APIKey) GoString() string { return fmt.Sprintf("reten.APIKey(%q)", k.String()) }

// Format implements fmt.Formatter so that no verb (%s %v %+v %q %x ...) shows the key.
func (k APIKey) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprintf(f, "%q", k.String())
	case 'v':
		if f.Flag('#') {
			fmt.Fprint(f, k.GoString())
			return
		}
		fmt.Fprint(f, k.String())
	default:
		fmt.Fprint(f, k.String())
	}
}

// MarshalText implements encoding.TextMarshaler (also used by JSON and most loggers).
func (k APIKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }
