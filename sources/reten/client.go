package reten

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/reten/reten-relay/schema"
)

// Base URLs of Reten's environments (reten-api.md §1).
const (
	ProdURL    = "https://api.reten.ai"
	StagingURL = "https://api-staging.reten.ai"
	DevURL     = "https://api-development.reten.ai"
)

// Limits on what the client reads of an answer.
const (
	// A page of 100 tasks of ~1 KB is ~100 KB; 8 MiB leaves 80× room while a walk's
	// worst case stays Concurrency × 8 MiB.
	maxPageBytes  = 8 << 20
	maxSmallBytes = 1 << 20
	maxErrorBody  = 512
)

// Config configures a Client.
type Config struct {
	// BaseURL is the API base URL (https://api.reten.ai) or a shortcut: prod, staging, dev.
	// A trailing /api is accepted and dropped: the docs write base URLs both ways. Required.
	BaseURL string
	// APIKey is the integration key (rtn_sk_...). Required.
	APIKey APIKey
	// Timeout bounds every request. Default: 15s.
	Timeout time.Duration
	// MaxConns is the size of the keep-alive connection pool; size it for the concurrency
	// of the callers. Default: 16.
	MaxConns int
	// UserAgent names the caller. Default: "reten-relay".
	UserAgent string
	// HTTPClient replaces the client's own (a test seam); Timeout and MaxConns then do not apply.
	HTTPClient *http.Client
	// TLS replaces the TLS settings of the client's own transport, e.g. to trust a
	// corporate proxy's CA. The transport always takes HTTPS_PROXY and NO_PROXY from the
	// environment. Default: nil (Go's defaults, the system's roots).
	TLS *tls.Config
}

// Client calls Reten's integration API. It is safe for concurrent use.
type Client struct {
	base string
	key  APIKey
	// headers holds each header's value, built once: Header.Set allocates the value's slice
	// and canonicalises the name on every request.
	headers  headerValues
	timeout  time.Duration
	http     *http.Client
	now      func() time.Time
	fetchers fetcherPool
}

// ResolveBaseURL turns a shortcut (prod, production, staging, dev, development) or an
// absolute http(s) URL into the base URL the paths are appended to.
func ResolveBaseURL(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "prod", "production":
		return ProdURL, nil
	case "staging":
		return StagingURL, nil
	case "dev", "development":
		return DevURL, nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("reten base URL %q: want prod, staging, dev or an absolute http(s) URL", s)
	}
	if u.User != nil {
		return "", fmt.Errorf("reten base URL: credentials in the URL are not allowed; use the API key")
	}
	base := strings.TrimRight(u.Scheme+"://"+u.Host+u.Path, "/")
	return strings.TrimSuffix(base, "/api"), nil
}

// New returns a client. It does not call Reten.
func New(cfg Config) (*Client, error) {
	base, err := ResolveBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	if cfg.APIKey.IsZero() {
		return nil, errors.New("reten: an API key is required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 16
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "reten-relay"
	}
	hc := cfg.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns = cfg.MaxConns * 2
		tr.MaxIdleConnsPerHost = cfg.MaxConns
		tr.IdleConnTimeout = 90 * time.Second
		// A page is ~100 KB, often chunked: a 4 KB read buffer (the default) costs a
		// read system call per 4 KB, which was a tenth of an unchanged cycle.
		tr.ReadBufferSize = 64 << 10
		if cfg.TLS != nil {
			tr.TLSClientConfig = cfg.TLS
		}
		hc = &http.Client{Transport: tr, Timeout: cfg.Timeout}
	}
	hc = withSameHostRedirects(hc)
	return &Client{base: base, key: cfg.APIKey, timeout: cfg.Timeout, http: hc, now: time.Now,
		headers: headerValues{key: []string{cfg.APIKey.Reveal()}, json: []string{"application/json"}, userAgent: []string{cfg.UserAgent}}}, nil
}

// BaseURL is the resolved base URL.
func (c *Client) BaseURL() string { return c.base }

// call is one request/response exchange. A non-2xx answer becomes an *Error.
type call struct {
	op         string
	method     string
	path       string
	query      url.Values
	body       []byte
	permission string
	limit      int64
	// buf, when not nil, is reused to hold the answer (a listing reads thousands of pages).
	buf []byte
	// discard is set when a 2xx answer's body is not needed: it is drained, not kept.
	discard bool
}

// headerValues are the values of the headers requests carry; key is the API key.
type headerValues struct {
	key, json, userAgent []string
}

// do performs the call and returns the status and the body of a 2xx answer.
func (c *Client) do(ctx context.Context, cl call) (int, []byte, error) {
	u := c.base + cl.path
	if len(cl.query) > 0 {
		u += "?" + cl.query.Encode()
	}
	var body io.Reader
	if cl.body != nil {
		body = bytes.NewReader(cl.body)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u, body)
	if err != nil {
		return 0, nil, &Error{Op: cl.op, Class: schema.ErrRejected, Permission: cl.permission, Err: err}
	}
	// The names are canonical and the values are never modified (a RoundTripper must not),
	// so they are shared by every request.
	req.Header["X-Api-Key"] = c.headers.key
	req.Header["Accept"] = c.headers.json
	req.Header["User-Agent"] = c.headers.userAgent
	if cl.body != nil {
		req.Header["Content-Type"] = c.headers.json
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, fmt.Errorf("reten: %s: %w", cl.op, ctx.Err())
		}
		if errors.Is(err, ErrForeignRedirect) {
			return 0, nil, &Error{Op: cl.op, Class: schema.ErrRejected, Permission: cl.permission, Err: c.scrubErr(err)}
		}
		// Timeouts, refused and reset connections, EOF before an answer: all transient.
		return 0, nil, &Error{Op: cl.op, Class: schema.ErrTransient, Permission: cl.permission, Err: c.scrubErr(err)}
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
	}()
	if cl.discard && resp.StatusCode/100 == 2 {
		return resp.StatusCode, nil, nil // the deferred drain reads what there is
	}
	limit := cl.limit
	if resp.StatusCode/100 != 2 {
		limit = maxSmallBytes
	}
	data, err := readBody(resp, cl.buf, limit+1)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, fmt.Errorf("reten: %s: %w", cl.op, ctx.Err())
		}
		return resp.StatusCode, nil, &Error{Op: cl.op, Class: schema.ErrTransient, StatusCode: resp.StatusCode, Permission: cl.permission, Err: c.scrubErr(err)}
	}
	if resp.StatusCode/100 == 2 {
		if int64(len(data)) > limit {
			return resp.StatusCode, nil, &Error{Op: cl.op, Class: schema.ErrRejected, StatusCode: resp.StatusCode, Permission: cl.permission,
				Err: fmt.Errorf("%w: answer larger than %d bytes", ErrBadResponse, limit)}
		}
		return resp.StatusCode, data, nil
	}
	e := &Error{
		Op:         cl.op,
		Class:      classify(resp.StatusCode),
		StatusCode: resp.StatusCode,
		Permission: cl.permission,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), c.now()),
		Body:       c.scrub(trim(string(data), maxErrorBody)),
		Message:    c.scrub(trim(serverMessage(data), 300)),
	}
	return resp.StatusCode, nil, e
}

// readBody reads at most limit bytes of the body into buf (grown as needed).
func readBody(resp *http.Response, buf []byte, limit int64) ([]byte, error) {
	if n := resp.ContentLength; n > 0 && n <= limit && int64(cap(buf)) < n {
		buf = make([]byte, 0, n+1) // +1: room to see io.EOF without growing
	}
	r := io.LimitReader(resp.Body, limit)
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			// Doubling: append grows large slices by a quarter, which copies a body
			// cut at the cap about five times over.
			n := max(2*cap(buf), 4096)
			if int64(n) > limit {
				n = max(int(limit), cap(buf)+1)
			}
			grown := make([]byte, len(buf), n)
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// serverMessage reads NestJS's `message`, a string or an array of strings.
func serverMessage(body []byte) string {
	var nest struct {
		Message json.RawMessage `json:"message"`
	}
	if json.Unmarshal(body, &nest) != nil || len(nest.Message) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(nest.Message, &s) == nil {
		return s
	}
	var list []string
	if json.Unmarshal(nest.Message, &list) == nil {
		return strings.Join(list, "; ")
	}
	return string(nest.Message)
}

// scrub removes the API key from text that came from elsewhere (a body could echo it).
func (c *Client) scrub(s string) string {
	if k := c.key.Reveal(); k != "" {
		s = strings.ReplaceAll(s, k, schema.Redacted)
	}
	return s
}

// scrubErr keeps the error chain (net.Error, url.Error) but never its text with the key.
func (c *Client) scrubErr(err error) error {
	if k := c.key.Reveal(); k != "" && strings.Contains(err.Error(), k) {
		return &scrubbed{err: err, text: c.scrub(err.Error())}
	}
	return err
}

type scrubbed struct {
	err  error
	text string
}

func (s *scrubbed) Error() string { return s.text }
func (s *scrubbed) Unwrap() error { return s.err }

func trim(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
