package reten

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
)

func TestRedirectPolicy_FollowsOnlyTheSameSchemeHostAndPort(t *testing.T) {
	cases := []struct {
		from, to string
		follow   bool
	}{
		{"https://api.reten.ai/api/x", "https://api.reten.ai/api/y", true},
		{"https://api.reten.ai/api/x", "https://API.reten.ai:443/api/y", true},
		{"http://127.0.0.1:8080/a", "http://127.0.0.1:8080/b?page=2", true},
		{"https://api.reten.ai/api/x", "http://api.reten.ai/api/x", false},
		{"https://api.reten.ai/api/x", "https://api.reten.ai:8443/api/x", false},
		{"https://api.reten.ai/api/x", "https://evil.example/api/x", false},
		{"https://api.reten.ai/api/x", "https://api.reten.ai.evil.example/api/x", false},
		{"http://127.0.0.1:8080/a", "http://localhost:8080/a", false},
	}
	check := withSameHostRedirects(&http.Client{}).CheckRedirect
	for _, c := range cases {
		from, _ := url.Parse(c.from)
		to, _ := url.Parse(c.to)
		err := check(&http.Request{URL: to}, []*http.Request{{URL: from}})
		if follow := err == nil; follow != c.follow || !follow && !errors.Is(err, ErrForeignRedirect) {
			t.Errorf("%s → %s: err %v, want follow=%v", c.from, c.to, err, c.follow)
		}
	}
	var via []*http.Request
	for range maxRedirects {
		via = append(via, &http.Request{URL: &url.URL{Scheme: "https", Host: "api.reten.ai"}})
	}
	if err := check(&http.Request{URL: via[0].URL}, via); err == nil {
		t.Error("a redirect loop was followed forever")
	}
}
