package reten

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// maxRedirects is how many same-host redirects one call follows (net/http's default).
const maxRedirects = 10

// withSameHostRedirects returns hc, or a copy of it, that follows only redirects to the
// scheme, host and port of the original request. net/http keeps custom headers such as
// x-api-key on every redirect (it only drops Authorization and cookies across domains),
// so this policy is what keeps the key at Reten. It applies to an injected client too.
func withSameHostRedirects(hc *http.Client) *http.Client {
	c := *hc
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return fmt.Errorf("stopped after %d redirects", maxRedirects)
		}
		if to, from := origin(req.URL), origin(via[0].URL); to != from {
			return fmt.Errorf("%w: %s redirected to %s", ErrForeignRedirect, from, to)
		}
		return nil
	}
	return &c
}

// origin is scheme://host:port with the scheme's default port filled in.
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Hostname()) + ":" + port
}
