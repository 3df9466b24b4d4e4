//go:build !linux

package state

import bolt "go.etcd.io/bbolt"

// dropMapped does nothing where MADV_DONTNEED's meaning differs.
func dropMapped(*bolt.Tx) {}
