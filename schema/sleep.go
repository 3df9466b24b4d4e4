package schema

import (
	"context"
	"time"
)

// Sleep waits d, or until ctx is done and then returns ctx's error. It lives here because
// schema is the one package every pipeline and source may import.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
