// Package routing decides where a task event goes: it turns the `tasks.routes` of the
// config into a Router that renders a NATS subject or Kafka topic for every route whose
// `when` filter matches the event.
//
// # Templates
//
// A subject, topic or key is a template: literal text with placeholders in braces, such as
// "reten.tasks.{op}.{channel}". The placeholders (KnownFields) are
//
//	op                    created, updated or deleted (the event's data.op)
//	id                    the task id (the event's subject)
//	type                  the task's "type"
//	status                the task's "status"
//	channel               the task's "channel"
//	lifecycle_status      the task's "lifecycleStatus"
//	activity_origin       the task's "activityOrigin"
//	commerce_external_id  the task's "commerceExternalId"
//
// Task fields come from data.task, or from data.previous when the op is deleted (a deleted
// task has no current version). A string is used as is; a number or boolean by its JSON
// text; a missing field, null, an object or an array is the empty value.
//
// # Escaping
//
// A field value can never add subject tokens, wildcards or characters a Kafka topic cannot
// hold. In a subject or topic every character of a value outside [A-Za-z0-9_-] (dots,
// '*', '>', whitespace, '%', any non-ASCII letter, ...) is replaced by '_', and an empty
// value renders as a single '_'. So {channel} = "WHATSAPP" gives "WHATSAPP",
// "a.b c" gives "a_b_c", "*" gives "_", "" gives "_". The mapping is not reversible
// ("a.b" and "a_b" both render "a_b"); subscribers that need the exact value read it from
// the event body. Kafka keys are not escaped (a key is opaque bytes); a missing value in a
// key renders empty.
//
// # Filters
//
// A route's `when` maps fields to lists of accepted values: the route matches when every
// listed field has one of its values (AND across fields, OR within one field). Values are
// compared exactly, before escaping; the value "" matches a missing field. A route
// without `when` matches every event. Routes are tried in order and an event goes to
// every route that matches.
package routing
