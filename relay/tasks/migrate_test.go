package tasks_test

import (
	"context"
	"encoding/binary"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// An older version's state file: v1 snapshot entries and one event still in its single
// outbox. The upgrade publishes that event first, byte for byte.
func TestPoller_UpgradePublishesTheOldOutbox(t *testing.T) {
	e := newEnv(t)
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	body := `{"specversion":"1.0","id":"old-1","source":"` + testSource + `","type":"ai.reten.task.created","subject":"b","time":"2026-01-01T00:00:00Z","datacontenttype":"application/json","data":{"op":"created","task":{"id":"b"},"previous":null}}`
	db, err := bolt.Open(e.path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		out, err := tx.CreateBucketIfNotExists([]byte("outbox"))
		if err != nil {
			return err
		}
		var rec []byte
		for _, s := range []string{"b", "old-1", "created"} {
			rec = binary.AppendUvarint(rec, uint64(len(s)))
			rec = append(rec, s...)
		}
		k := make([]byte, 8)
		binary.BigEndian.PutUint64(k, 1)
		if err := out.Put(k, append(rec, body...)); err != nil {
			return err
		}
		snap := tx.Bucket([]byte("snapshot"))
		v1 := make([]byte, 1+8+32+8+1) // version 1: raw hash, content hash, change number, flags
		v1[0] = 1
		binary.BigEndian.PutUint64(v1[41:], 1)
		if err := snap.Put([]byte("b"), v1); err != nil {
			return err
		}
		return tx.Bucket([]byte("meta")).Put([]byte("poller"), []byte(`{"synced":true}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	e.open()
	e.lister.set(task("b"))
	_, err = e.p.Cycle(context.Background())
	if err != nil {
		t.Fatalf("cycle after upgrade: %v", err)
	}
	msgs := e.sink.take()
	if len(msgs) == 0 || msgs[0].ID != "old-1" || string(msgs[0].Body) != body {
		t.Fatalf("first message after the upgrade = %+v, want the old outbox's event as it was", msgs)
	}
	e.restart()
	e.cycle()
	for _, m := range e.sink.take() {
		if m.ID == "old-1" {
			t.Fatal("the old outbox's event was published again after a restart")
		}
	}
}
