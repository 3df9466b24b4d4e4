package schema

import "errors"

// Failure classes of Reten calls (design §6). The Reten client returns errors for which
// errors.Is reports exactly one of these, so the relay can decide without knowing HTTP.
var (
	// ErrAuth: 401 (key missing, invalid, revoked or expired) or 403 (key lacks the
	// endpoint's permission). Never retried fast, never dead-lettered.
	ErrAuth = errors.New("reten: authentication failed")
	// ErrTransient: 408, 425, 429, 5xx, timeouts, connection errors. Retry with backoff.
	ErrTransient = errors.New("reten: transient failure")
	// ErrRejected: any other 4xx, or a response that cannot be understood. Hopeless.
	ErrRejected = errors.New("reten: request rejected")
	// ErrConflict: 409, the activity already has a result.
	ErrConflict = errors.New("reten: activity already has a result")
)
