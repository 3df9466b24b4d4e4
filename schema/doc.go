// Package schema holds the wire types of reten-relay: the CloudEvents task event, the
// messages it hands to brokers, the Reten task and result-type shapes, the result message
// producers send, dead letters and outcomes, and the failure classes of Reten calls.
//
// It is the leaf of the module: it imports the standard library only, so every other
// package (relay, sinks, sources) can share these types without importing each other.
package schema
