// Package config loads and validates reten-relay's YAML configuration (design §4).
//
// Load starts from DefaultConfig and decodes the file into it strictly: unknown keys,
// duplicate keys, wrong types and bad durations are errors, keys absent from the file keep
// their defaults, and a null value (`key:` with nothing after it) keeps the default too.
// Every problem is reported as
//
//	FILE:LINE: FIELD: what is wrong
//
// where FIELD is the dotted key path, such as tasks.routes[1].subject. Load returns every
// problem it finds at once as an Errors value.
//
// # Environment variables
//
// Scalar values (never keys) expand ${VAR} (empty when unset), ${VAR:-default} (default
// when VAR is unset or empty) and ${VAR:?message} (an error naming VAR when it is unset or
// empty). $${ writes a literal ${. A default cannot contain '}'. Expansion happens per
// value after YAML parsing, so line numbers always point into the file as written and an
// expanded value can never inject YAML structure. A list of strings (kafka.brokers, a
// `when` list) may also be given as one comma-separated value, so that
// `brokers: ${KAFKA_BROKERS}` works.
//
// The package never reads the process environment itself: callers pass os.LookupEnv.
//
// # Why a hand-written decoder
//
// The config is decoded by walking the yaml.v3 node tree with a small reflection-based
// decoder instead of yaml.Decoder with KnownFields: it gives the line of every error, it
// expands variables per scalar, and it sidesteps go-yaml/yaml#460 (Node.Decode inside a
// custom UnmarshalYAML drops KnownFields).
package config
