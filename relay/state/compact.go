package state

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// Compaction thresholds: bbolt never gives pages back to the file system, so after a
// first sync (every event written, then acked) most of the file is free pages.
const (
	// compactMinBytes is the smallest file worth compacting.
	compactMinBytes = 16 << 20
	// compactFreeShare is the share of free pages from which the file is compacted.
	compactFreeShare = 0.5
	// compactTxBytes bounds one copy transaction's size.
	compactTxBytes = 64 << 20
)

// CompactIfMostlyFree rewrites the state file without its free pages when they are more
// than half of a file of at least 16 MiB: the copy is written next to it, fsynced, and
// renamed over it, so a crash leaves either file whole. Other calls wait meanwhile. It
// reports the sizes before and after, or zeros when it left the file alone.
func (s *Store) CompactIfMostlyFree(ctx context.Context) (before, after int64, err error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fi, err := os.Stat(s.path)
	if err != nil {
		return 0, 0, fmt.Errorf("stat state %s: %w", s.path, err)
	}
	var pageSize int
	if err := s.db.View(func(tx *bolt.Tx) error { pageSize = tx.DB().Info().PageSize; return nil }); err != nil {
		return 0, 0, fmt.Errorf("compact state: %w", err)
	}
	st := s.db.Stats()
	free := int64(st.FreePageN+st.PendingPageN) * int64(pageSize)
	if fi.Size() < compactMinBytes || float64(free) < compactFreeShare*float64(fi.Size()) {
		// Once a cycle, the pages its reads mapped in stop counting as ours (dropMapped).
		_ = s.db.View(func(tx *bolt.Tx) error { dropMapped(tx); return nil })
		return 0, 0, nil
	}
	tmp := s.path + ".compact"
	_ = os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, boltOptions())
	if err != nil {
		return 0, 0, fmt.Errorf("compact state: %w", err)
	}
	if err := bolt.Compact(dst, s.db, compactTxBytes); err != nil {
		_ = dst.Close()
		_ = os.Remove(tmp)
		return 0, 0, fmt.Errorf("compact state: %w", err)
	}
	if err := dst.Close(); err != nil {
		_ = os.Remove(tmp)
		return 0, 0, fmt.Errorf("compact state: %w", err)
	}
	if err := s.db.Close(); err != nil {
		return 0, 0, fmt.Errorf("compact state: close: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return 0, 0, fmt.Errorf("compact state: %w", err)
	}
	if d, err := os.Open(filepath.Dir(s.path)); err == nil { // make the rename durable
		_ = d.Sync()
		_ = d.Close()
	}
	db, err := bolt.Open(s.path, 0o600, boltOptions())
	if err != nil {
		return 0, 0, fmt.Errorf("reopen compacted state %s: %w", s.path, err)
	}
	s.db = db
	s.recent.reset()
	if nfi, err := os.Stat(s.path); err == nil {
		after = nfi.Size()
	}
	return fi.Size(), after, nil
}
