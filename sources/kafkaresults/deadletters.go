package kafkaresults

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"

	"github.com/reten/reten-relay/schema"
)

// DeadLetter is one dead-letter record.
type DeadLetter struct {
	// Partition and Offset place it: `dlq show PARTITION:OFFSET` takes them.
	Partition int
	Offset    int64
	// Time is the record's timestamp.
	Time time.Time
	// Letter is the dead letter; Raw its bytes as stored.
	Letter schema.DeadLetter
	Raw    []byte
}

// ListOptions select dead letters.
type ListOptions struct {
	// Brokers are the bootstrap addresses. Required.
	Brokers []string
	// DeadLetterTopic is results.dead_letter. Required.
	DeadLetterTopic string
	// Reason keeps only dead letters of this reason; "" keeps all.
	Reason string
	// Limit stops after this many matches; 0 lists all there are now.
	Limit int
	// TLS and SASL as for the relay's other connections.
	TLS  *tls.Config
	SASL sasl.Mechanism
}

// ListDeadLetters reads every dead letter in the topic now, partition by partition, oldest
// first. Kafka cannot delete a record, so this includes those a replay already re-published
// (Replay's group remembers those).
func ListDeadLetters(ctx context.Context, opts ListOptions) ([]DeadLetter, error) {
	d := dialer("reten-relay-dlq", opts.TLS, opts.SASL)
	parts, err := partitions(ctx, d, opts.Brokers, opts.DeadLetterTopic)
	if err != nil {
		return nil, err
	}
	var out []DeadLetter
	for _, p := range parts {
		conn, err := d.DialLeader(ctx, "tcp", opts.Brokers[0], opts.DeadLetterTopic, p)
		if err != nil {
			return out, fmt.Errorf("dlq: partition %d of %s: %w", p, opts.DeadLetterTopic, err)
		}
		first, last, err := conn.ReadOffsets()
		_ = conn.Close()
		if err != nil {
			return out, fmt.Errorf("dlq: offsets of %s/%d: %w", opts.DeadLetterTopic, p, err)
		}
		if first >= last {
			continue
		}
		err = readPartition(ctx, d, opts, p, first, last, func(dl DeadLetter) bool {
			if opts.Reason == "" || dl.Letter.Reason == opts.Reason {
				out = append(out, dl)
			}
			return opts.Limit == 0 || len(out) < opts.Limit
		})
		if err != nil || (opts.Limit > 0 && len(out) >= opts.Limit) {
			return out, err
		}
	}
	return out, nil
}

// ShowDeadLetter returns the dead letter at partition:offset.
func ShowDeadLetter(ctx context.Context, opts ListOptions, partition int, offset int64) (DeadLetter, error) {
	var found *DeadLetter
	err := readPartition(ctx, dialer("reten-relay-dlq", opts.TLS, opts.SASL), opts, partition, offset, offset+1, func(dl DeadLetter) bool {
		found = &dl
		return false
	})
	if err == nil && found == nil {
		err = fmt.Errorf("dlq: %s/%d@%d is not a dead letter", opts.DeadLetterTopic, partition, offset)
	}
	if err != nil {
		return DeadLetter{}, err
	}
	return *found, nil
}

// readPartition reads offsets [from, to) of one partition, calling fn with each dead letter
// until it returns false. Records that are not dead letters are passed over.
func readPartition(ctx context.Context, d *kafka.Dialer, opts ListOptions, partition int, from, to int64, fn func(DeadLetter) bool) error {
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: opts.Brokers, Topic: opts.DeadLetterTopic, Partition: partition,
		MaxWait: 250 * time.Millisecond, Dialer: d})
	defer r.Close()
	if err := r.SetOffset(from); err != nil {
		return err
	}
	for off := from; off < to; {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		m, err := r.ReadMessage(rctx)
		cancel()
		if err != nil {
			return fmt.Errorf("dlq: read %s/%d@%d: %w", opts.DeadLetterTopic, partition, off, err)
		}
		off = m.Offset + 1
		if m.Offset >= to {
			return nil
		}
		dl, ok := decodeDeadLetter(m)
		if ok && !fn(dl) {
			return nil
		}
	}
	return nil
}

func decodeDeadLetter(m kafka.Message) (DeadLetter, bool) {
	dl := DeadLetter{Partition: m.Partition, Offset: m.Offset, Time: m.Time, Raw: m.Value}
	if json.Unmarshal(m.Value, &dl.Letter) != nil || dl.Letter.Reason == "" {
		return dl, false
	}
	return dl, true
}

// partitions lists the topic's partitions, asking the brokers in turn.
func partitions(ctx context.Context, d *kafka.Dialer, brokers []string, topic string) ([]int, error) {
	if len(brokers) == 0 || topic == "" {
		return nil, errors.New("dlq: brokers and the dead-letter topic are required")
	}
	var err error
	for _, b := range brokers {
		var conn *kafka.Conn
		if conn, err = d.DialContext(ctx, "tcp", b); err != nil {
			continue
		}
		var ps []kafka.Partition
		ps, err = conn.ReadPartitions(topic)
		_ = conn.Close()
		if err != nil {
			continue
		}
		out := make([]int, len(ps))
		for i, p := range ps {
			out[i] = p.ID
		}
		return out, nil
	}
	return nil, fmt.Errorf("dlq: partitions of %s: %w", topic, err)
}
