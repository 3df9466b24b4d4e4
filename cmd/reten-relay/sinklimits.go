package main

import (
	"github.com/nats-io/nats.go"

	"github.com/reten/reten-relay/relay"
	"github.com/reten/reten-relay/relay/config"
)

// kafkaMaxMessageBytes is the largest record the Kafka sink sends: kafka-go's writer
// refuses a message larger than its BatchBytes (1 MiB by default), as brokers do with
// their default message.max.bytes.
const kafkaMaxMessageBytes = 1 << 20

// limitedSink tells the tasks poller how large a message its sink accepts, so an event
// too large for it goes out trimmed instead of failing every publish.
type limitedSink struct {
	relay.Sink
	limit func() int
}

// MaxMessageBytes is the sink's message size limit.
func (s limitedSink) MaxMessageBytes() int { return s.limit() }

// taskSinks wraps the sinks with their message size limits: NATS's is the server's
// max_payload (asked each time, so a reconnect to another server counts), Kafka's the
// writer's.
func taskSinks(sinks map[string]relay.Sink) map[string]relay.Sink {
	out := make(map[string]relay.Sink, len(sinks))
	for name, s := range sinks {
		switch c := s.(type) {
		case interface{ Conn() *nats.Conn }:
			out[name] = limitedSink{Sink: s, limit: func() int { return int(c.Conn().MaxPayload()) }}
		default:
			if name == config.SinkKafka {
				out[name] = limitedSink{Sink: s, limit: func() int { return kafkaMaxMessageBytes }}
				continue
			}
			out[name] = s
		}
	}
	return out
}
