// Package tasks is the tasks pipeline of reten-relay (design §7): a Poller lists Reten's
// whole task list every interval, diffs it against a durable snapshot, writes the resulting
// CloudEvents together with the new snapshot into an outbox in one transaction, and then
// publishes the outbox through a relay.Router to relay.Sinks, removing each event once every
// sink confirmed it.
//
// The order (drain outbox, list, diff, commit snapshot+outbox, publish) means a crash at any
// point yields at most a re-publish of an event with the same id, and a diff never runs
// while events are still pending.
//
// The durable state sits behind the StateStore interface defined here; relay/state
// implements it on bbolt.
package tasks
