// Package relay holds the two pipelines of reten-relay, written against small interfaces
// it defines itself: the tasks pipeline (Lister → diff → StateStore outbox → Sink) and the
// results pipeline (ResultSource → validate → Submitter → ack or dead letter).
//
// relay imports schema and its own subpackages only; the concrete Reten client, brokers and
// state store satisfy its interfaces structurally and are wired in cmd/reten-relay.
package relay
