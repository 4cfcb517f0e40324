// Package spec renders Gridflow's OpenAPI document for the generated client:
// huma's OpenAPI 3.0 downgrade of the API's 3.1 document, completed so that
// it is valid OpenAPI 3.0, which generators such as oapi-codegen read.
//
// It builds the API over an engine without a store or a Temporal client:
// registering the operations reads only their types and the engine's
// settings, so no database, Temporal server or testbed is needed.
package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"

	"github.com/gridflow/gridflow/api"
	"github.com/gridflow/gridflow/engine"
)

// Document returns the API's OpenAPI document, indented so that a change to
// the API shows as a readable diff of the committed file: the 3.1 document
// with v31, else the valid 3.0 one.
func Document(v31 bool) ([]byte, error) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := api.New(engine.New(nil, nil, log), api.Options{Logger: log})
	var raw []byte
	var err error
	if v31 {
		raw, err = json.Marshal(srv.OpenAPI())
	} else {
		raw, err = To30(srv.OpenAPI().Downgrade())
	}
	if err != nil {
		return nil, fmt.Errorf("rendering the OpenAPI document: %w", err)
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// To30 completes huma's downgrade (of the document raw, with its error err)
// where it leaves OpenAPI 3.1 constructs that 3.0 does not have:
//
//   - const: v becomes enum: [v];
//   - an anyOf or oneOf with a {"type": "null"} member loses it and becomes
//     nullable;
//   - a schema that accepts anything ({}) accepts null in 3.1: it becomes
//     nullable;
//   - contentMediaType goes (3.0 says the same with format: binary);
//   - format: base64, huma's rendering of contentEncoding: base64 (a
//     []byte), becomes 3.0's name for it, format: byte, which generators
//     decode;
//   - a $ref with sibling keywords keeps only the $ref (3.0 ignores the
//     siblings, validators refuse them).
func To30(raw []byte, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	if v, _ := doc["openapi"].(string); v != "3.0.3" {
		return nil, fmt.Errorf("the downgraded document says openapi %q, want 3.0.3", v)
	}
	// Schemas appear under components.schemas and in the operations'
	// parameters, request bodies and responses; every "schema" value and
	// every schema nested in one is completed.
	walk(doc, false)
	return json.Marshal(doc)
}

// schemaKeys are the keywords whose values are schemas, or maps or lists
// of schemas.
var schemaKeys = map[string]bool{"schema": true, "items": true, "additionalProperties": true, "not": true}
var schemaListKeys = map[string]bool{"anyOf": true, "oneOf": true, "allOf": true}
var schemaMapKeys = map[string]bool{"properties": true, "schemas": true}

// walk visits v; isSchema says that v itself is a schema.
func walk(v any, isSchema bool) {
	switch x := v.(type) {
	case map[string]any:
		if isSchema {
			fixSchema(x)
		}
		for k, child := range x {
			switch {
			case isSchema && schemaKeys[k], !isSchema && k == "schema":
				walk(child, true)
			case isSchema && schemaListKeys[k]:
				if list, ok := child.([]any); ok {
					for _, s := range list {
						walk(s, true)
					}
				}
			case schemaMapKeys[k] && (isSchema || k == "schemas"):
				if m, ok := child.(map[string]any); ok {
					for _, s := range m {
						walk(s, true)
					}
				}
			case !isSchema && k != "example" && k != "examples":
				// Examples are data, whatever keys they hold.
				walk(child, false)
			}
		}
	case []any:
		for _, e := range x {
			walk(e, isSchema)
		}
	}
}

func fixSchema(s map[string]any) {
	if _, ok := s["$ref"]; ok {
		for k := range s {
			if k != "$ref" {
				delete(s, k)
			}
		}
		return
	}
	if c, ok := s["const"]; ok {
		delete(s, "const")
		s["enum"] = []any{c}
	}
	delete(s, "contentMediaType")
	if s["format"] == "base64" {
		s["format"] = "byte"
	}
	for _, k := range []string{"anyOf", "oneOf"} {
		list, ok := s[k].([]any)
		if !ok {
			continue
		}
		kept := list[:0]
		for _, e := range list {
			if m, ok := e.(map[string]any); ok && len(m) == 1 && m["type"] == "null" {
				s["nullable"] = true
				continue
			}
			kept = append(kept, e)
		}
		s[k] = kept
	}
	if anything(s) {
		s["nullable"] = true
	}
}

// anything says whether s constrains no type: in 3.1 it accepts null.
func anything(s map[string]any) bool {
	for _, k := range []string{"type", "$ref", "anyOf", "oneOf", "allOf", "not", "enum", "properties", "items"} {
		if _, ok := s[k]; ok {
			return false
		}
	}
	return true
}
