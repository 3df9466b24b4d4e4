package state

import (
	"syscall"

	bolt "go.etcd.io/bbolt"
)

// dropMapped tells the kernel the process no longer needs the pages of the state file it
// has mapped (MADV_DONTNEED on bbolt's read-only shared mapping). They stay in the page
// cache, and a later read maps them again with the same bytes (every write goes through
// the file, never through the mapping), but they stop counting as the process's memory:
// without it a first sync of a million tasks keeps the whole file resident in RSS, since
// bbolt reads every page it rewrites through the mapping. Called in a read transaction,
// which keeps bbolt from remapping meanwhile; tx.Size() never exceeds the mapping.
func dropMapped(tx *bolt.Tx) {
	_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, tx.DB().Info().Data, uintptr(tx.Size()), syscall.MADV_DONTNEED)
}
