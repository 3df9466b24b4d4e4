package schema

import "embed"

// JSONSchemas holds the JSON Schemas (draft 2020-12) of the wire formats:
// task-event.schema.json, result-message.schema.json, dead-letter.schema.json and
// outcome.schema.json, all under the directory "jsonschema", plus asyncapi.yaml.
//
//go:embed jsonschema/*.json asyncapi.yaml
var JSONSchemas embed.FS
