package reten

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/reten/reten-relay/schema"
)

// Permissions the integration endpoints need (reten-api.md §1).
const (
	PermissionViewActivities       = "VIEW_ACTIVITIES"
	PermissionSubmitActivityResult = "SUBMIT_ACTIVITY_RESULT"
)

// ErrPageBeyondEnd: a page past meta.totalPages was asked for. During a listing it means
// the list shrank while it was walked.
var ErrPageBeyondEnd = errors.New("page beyond the last page")

// ErrBadResponse: Reten's answer could not be understood (not JSON, truncated, wrong shape).
var ErrBadResponse = errors.New("response not understood")

// ErrForeignRedirect: an answer redirected the client to another scheme, host or port. The
// client never follows it, because the request carries the x-api-key; it is a rejected
// call (ErrRejected), naming where the redirect pointed.
var ErrForeignRedirect = errors.New("redirect to another host refused: the API key is only sent to the configured Reten host")

// Error is every failure of a Reten call. errors.Is(err, schema.ErrAuth) (or ErrTransient,
// ErrRejected, ErrConflict) tells its class; errors.As gives the details.
type Error struct {
	// Op is what the client was doing, e.g. "list tasks page 3".
	Op string
	// Class is one of schema.ErrAuth, ErrTransient, ErrRejected, ErrConflict.
	Class error
	// StatusCode is the HTTP status, 0 when no response came.
	StatusCode int
	// RetryAfter is the Retry-After the server asked for, 0 when none.
	RetryAfter time.Duration
	// Permission is the key permission the endpoint needs.
	Permission string
	// Message is the server's message (NestJS `message`), trimmed.
	Message string
	// Body is the response body, trimmed; it never contains the API key.
	Body string
	// Err is the underlying error, if any (a network error, ErrBadResponse, ...).
	Err error
}

// Error says what failed, the status and the server's message; for auth failures it names
// the permission the endpoint needs.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("reten: ")
	b.WriteString(e.Op)
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, ": %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	switch e.StatusCode {
	case http.StatusUnauthorized:
		b.WriteString(" (the API key is missing, invalid, revoked or expired)")
	case http.StatusForbidden:
		fmt.Fprintf(&b, " (the API key lacks the permission %s)", e.Permission)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is the error's class.
func (e *Error) Is(target error) bool { return target != nil && target == e.Class }

// HTTPStatus is the HTTP status, 0 when no response came.
func (e *Error) HTTPStatus() int { return e.StatusCode }

// RetryAfterDelay is the server's Retry-After, 0 when none.
func (e *Error) RetryAfterDelay() time.Duration { return e.RetryAfter }

// RequiredPermission names the permission the endpoint needs.
func (e *Error) RequiredPermission() string { return e.Permission }

// Response is the trimmed response body.
func (e *Error) Response() string { return e.Body }

// classify maps an HTTP status to a failure class (design §6).
func classify(status int) error {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return schema.ErrAuth
	case status == http.StatusConflict:
		return schema.ErrConflict
	case status == http.StatusRequestTimeout || status == http.StatusTooEarly || status == http.StatusTooManyRequests || status >= 500:
		return schema.ErrTransient
	default:
		return schema.ErrRejected
	}
}

// parseRetryAfter reads Retry-After as delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var secs int64
	if _, err := fmt.Sscanf(v, "%d", &secs); err == nil && fmt.Sprint(secs) == v {
		if secs < 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d.Round(time.Second)
		}
	}
	return 0
}
