// Package natsstate keeps the tasks pipeline's state in a JetStream KeyValue bucket, so
// several relays can share it, and elects the one relay that polls with a lease key in the
// same bucket. *Store satisfies relay/tasks.StateStore with the guarantees of the bbolt store
// (relay/state): a cycle's snapshot and outbox are stored before anything is published,
// re-publishes carry the same ids, and a confirmed message leaves the outbox.
//
// Layout of the bucket (keys are KV keys, values are binary):
//
//	t.<task>                 snapshot entry (hashes, change number, flags)
//	p.<task>                 last published JSON of a live task
//	q.<sink>.<seq>.<n>       an outbox event queued for sink, with its n messages
//	meta                     the poller's bookkeeping and the next outbox sequence
//	lease                    the poller lease: the holder's name, with a per-message TTL
//
// Every write of a cycle goes out as JetStream atomic batches whose first message renews
// the lease with the lease key's last revision: a relay that lost the lease (paused, cut
// off) has each of its writes refused whole.
package natsstate

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// Config configures a Store.
type Config struct {
	// Bucket is the KeyValue bucket; created when missing. Required.
	Bucket string
	// LeaseTTL is how long the poller lease lives without a renewal. Default: 10s.
	LeaseTTL time.Duration
	// Replica names this relay in the lease. Required.
	Replica string
	// Logger receives lease changes. Default: zerolog.Nop().
	Logger zerolog.Logger
	// OnLease, when set, is told every time this relay's role changes (true: it holds
	// the lease) and who holds the lease as far as it knows ("" when nobody).
	OnLease func(holding bool, holder string)
}

// DefaultLeaseTTL is Config.LeaseTTL's default.
const DefaultLeaseTTL = 10 * time.Second

// MinLeaseTTL is the shortest lease: JetStream's per-message TTLs count in seconds.
const MinLeaseTTL = time.Second

var bucketName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Store is the KV state store. Its methods are safe for concurrent use.
type Store struct {
	cfg    Config
	log    zerolog.Logger
	nc     *nats.Conn
	js     jetstream.JetStream
	kv     jetstream.KeyValue
	str    jetstream.Stream
	stream string // the bucket's stream, KV_<bucket>
	prefix string // subject prefix of keys, $KV.<bucket>.
	ttl    bool   // the bucket allows per-message TTLs
	lease  *Lease

	mu      sync.Mutex
	nextSeq uint64                       // next outbox sequence; 0 until loaded
	queued  map[string]map[uint64]*qinfo // sink → outbox seq → where it is and what is acked
	// scanned is, per sink, the stream sequence up to which queued knows every record
	// (read from the stream's start in this term): below it, a record not in queued is
	// gone, so acks may purge the whole range at once.
	scanned map[string]uint64
	// purged is, per sink, the stream sequence below which acks purged every record.
	purged map[string]uint64
}

// qinfo is what the store remembers of one queued event it has read or written.
type qinfo struct {
	streamSeq uint64
	n         int
	acked     map[uint16]bool
}

// Open binds to cfg.Bucket on nc, creating it when missing (an existing bucket's history,
// replicas and storage are used as they are and never changed). ctx bounds the set-up.
func Open(ctx context.Context, nc *nats.Conn, cfg Config) (*Store, error) {
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	switch {
	case !bucketName.MatchString(cfg.Bucket):
		return nil, fmt.Errorf("%w: bucket %q: use letters, digits, - and _", ErrInvalidConfig, cfg.Bucket)
	case cfg.LeaseTTL < MinLeaseTTL:
		return nil, fmt.Errorf("%w: lease ttl must be >= %s, got %s", ErrInvalidConfig, MinLeaseTTL, cfg.LeaseTTL)
	case cfg.Replica == "":
		return nil, fmt.Errorf("%w: replica name is required", ErrInvalidConfig)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      cfg.Bucket,
			Description: "reten-relay tasks state (snapshot, outbox, poller lease)",
			History:     1,
			Storage:     jetstream.FileStorage,
			// Markers left by expired keys (the lease) live this long; setting it turns on
			// per-message TTLs, which the lease uses.
			LimitMarkerTTL: max(cfg.LeaseTTL, time.Minute),
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(ctx, cfg.Bucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("key-value bucket %s: %w", cfg.Bucket, err)
	}
	s := &Store{cfg: cfg, log: cfg.Logger, nc: nc, js: js, kv: kv, stream: "KV_" + cfg.Bucket,
		prefix: "$KV." + cfg.Bucket + ".", queued: map[string]map[uint64]*qinfo{}, scanned: map[string]uint64{}, purged: map[string]uint64{}}
	if err := s.prepareStream(ctx); err != nil {
		return nil, err
	}
	s.lease = newLease(s)
	return s, nil
}

// prepareStream turns on atomic batch publishes, the one stream setting the store needs
// that a bucket does not have by default. Nothing else of an existing bucket is changed.
func (s *Store) prepareStream(ctx context.Context) error {
	st, err := s.js.Stream(ctx, s.stream)
	if err != nil {
		return fmt.Errorf("bucket %s stream: %w", s.cfg.Bucket, err)
	}
	s.str = st
	cfg := st.CachedInfo().Config
	s.ttl = cfg.AllowMsgTTL
	if !cfg.AllowDirect {
		return fmt.Errorf("%w: bucket %s does not allow direct gets (allow_direct), which the relay reads with", ErrBucket, s.cfg.Bucket)
	}
	if cfg.AllowAtomicPublish {
		return nil
	}
	cfg.AllowAtomicPublish = true
	if _, err := s.js.UpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("%w: bucket %s: turn on atomic batch publishes (nats-server >= 2.12): %w", ErrBucket, s.cfg.Bucket, err)
	}
	return nil
}

// Lease is the poller lease kept in the bucket.
func (s *Store) Lease() *Lease { return s.lease }

// Bucket is the bucket's name.
func (s *Store) Bucket() string { return s.cfg.Bucket }

func (s *Store) subject(key string) string { return s.prefix + key }
