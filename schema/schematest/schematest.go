// Package schematest validates wire messages against the JSON Schemas in package schema.
// Tests use it to prove that what the relay publishes is what the schemas promise.
package schematest

import (
	"bytes"
	"fmt"
	"io/fs"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/reten/reten-relay/schema"
)

// Names of the schemas in schema.JSONSchemas.
const (
	TaskEvent     = "task-event.schema.json"
	ResultMessage = "result-message.schema.json"
	DeadLetter    = "dead-letter.schema.json"
	Outcome       = "outcome.schema.json"
)

// Validator checks JSON documents against one schema.
type Validator struct {
	s *jsonschema.Schema
}

// New compiles the named schema; it fails the test if the schema does not compile.
func New(t testing.TB, name string) *Validator {
	t.Helper()
	v, err := compile(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func compile(name string) (*Validator, error) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	entries, err := fs.ReadDir(schema.JSONSchemas, "jsonschema")
	if err != nil {
		return nil, fmt.Errorf("read schemas: %w", err)
	}
	var id string
	for _, e := range entries {
		raw, err := fs.ReadFile(schema.JSONSchemas, "jsonschema/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", e.Name(), err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", e.Name(), err)
		}
		url := "https://reten-relay.dev/schema/" + e.Name()
		if err := c.AddResource(url, doc); err != nil {
			return nil, fmt.Errorf("add %s: %w", e.Name(), err)
		}
		if e.Name() == name {
			id = url
		}
	}
	if id == "" {
		return nil, fmt.Errorf("no schema named %s", name)
	}
	s, err := c.Compile(id)
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", name, err)
	}
	return &Validator{s: s}, nil
}

// Validate returns an error describing every violation, or nil.
func (v *Validator) Validate(doc []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return v.s.Validate(inst)
}
