package spec

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// committed is the document the generated client is made from.
var committed = filepath.Join("..", "..", "openapi-3.0.json")

// TestDocumentValidates checks the 3.0 document with a standard validator
// (kin-openapi, the library oapi-codegen reads documents with): structure,
// references, schemas, examples against their schemas.
func TestDocumentValidates(t *testing.T) {
	raw, err := Document(false)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !doc.IsOpenAPI30() {
		t.Fatalf("openapi %q, want 3.0.x", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation(), openapi3.EnableMultiError()); err != nil {
		t.Fatalf("the OpenAPI 3.0 document does not validate:\n%v", err)
	}
	ops := 0
	for _, item := range doc.Paths.Map() {
		ops += len(item.Operations())
	}
	t.Logf("OpenAPI %s: %d paths, %d operations, %d schemas: valid", doc.OpenAPI, doc.Paths.Len(), ops, len(doc.Components.Schemas))
}

// TestTo30 checks each completion of huma's downgrade on a small document.
func TestTo30(t *testing.T) {
	in := `{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{"/x":{"post":{
	  "requestBody":{"content":{"text/x-hcl":{"schema":{"type":"string","format":"binary","contentMediaType":"application/octet-stream"}}}},
	  "responses":{"200":{"description":"ok","content":{"application/json":{
	    "schema":{"$ref":"#/components/schemas/A","description":"dropped"},
	    "examples":{"e":{"value":{"schema":{"const":1}}}}}}}}}}},
	  "components":{"schemas":{"A":{"type":"object","properties":{
	    "kind":{"type":"string","const":"node"},
	    "any":{},
	    "raw":{"type":"string","format":"base64"},
	    "v":{"anyOf":[{"type":"boolean"},{"type":"string"},{"type":"null"}]},
	    "list":{"type":"array","items":{"$ref":"#/components/schemas/A","description":"dropped"}}}}}}}`
	out, err := To30([]byte(in), nil)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	get := func(path ...string) string {
		var v any = doc
		for _, k := range path {
			m, ok := v.(map[string]any)
			if !ok {
				return "missing"
			}
			v = m[k]
		}
		b, _ := json.Marshal(v)
		return string(b)
	}
	resp := []string{"paths", "/x", "post", "responses", "200", "content", "application/json"}
	for _, c := range []struct {
		path []string
		want string
	}{
		{[]string{"components", "schemas", "A", "properties", "kind"}, `{"enum":["node"],"type":"string"}`},
		{[]string{"components", "schemas", "A", "properties", "any"}, `{"nullable":true}`},
		{[]string{"components", "schemas", "A", "properties", "raw"}, `{"format":"byte","type":"string"}`},
		{[]string{"components", "schemas", "A", "properties", "v"}, `{"anyOf":[{"type":"boolean"},{"type":"string"}],"nullable":true}`},
		{[]string{"components", "schemas", "A", "properties", "list"}, `{"items":{"$ref":"#/components/schemas/A"},"type":"array"}`},
		{[]string{"paths", "/x", "post", "requestBody", "content", "text/x-hcl", "schema"}, `{"format":"binary","type":"string"}`},
		{append(resp, "schema"), `{"$ref":"#/components/schemas/A"}`},
		{append(resp, "examples", "e", "value"), `{"schema":{"const":1}}`},
	} {
		if got := get(c.path...); got != c.want {
			t.Errorf("%s = %s, want %s", strings.Join(c.path, " → "), got, c.want)
		}
	}
	if _, err := To30([]byte(`{"openapi":"3.1.0"}`), nil); err == nil {
		t.Error("a 3.1 document was taken for a downgraded one")
	}
}

// TestCommittedDocumentIsCurrent fails while the document the generated
// client was made from differs from the one the API describes now: the
// client would not match the API.
func TestCommittedDocumentIsCurrent(t *testing.T) {
	want, err := Document(false)
	if err != nil {
		t.Fatal(err)
	}
	have, err := os.ReadFile(committed)
	if err != nil {
		t.Fatalf("%v: generate it with go generate ./apiclient/", err)
	}
	if bytes.Equal(have, want) {
		return
	}
	// Name the operations that differ, so that the failure points at the
	// change.
	a, b := operations(t, have), operations(t, want)
	var diff []string
	for k, v := range b {
		if w, ok := a[k]; !ok {
			diff = append(diff, "added "+k)
		} else if w != v {
			diff = append(diff, "changed "+k)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			diff = append(diff, "removed "+k)
		}
	}
	sort.Strings(diff)
	if len(diff) > 20 {
		diff = append(diff[:20], "…")
	}
	t.Fatalf("%s is stale (operations %v, or schemas): run go generate ./apiclient/ and commit the document and the client",
		committed, diff)
}

func operations(t *testing.T, raw []byte) map[string]string {
	t.Helper()
	var d struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("undecodable document: %v", err)
	}
	out := map[string]string{}
	for p, item := range d.Paths {
		for m, op := range item {
			b, _ := json.Marshal(op) // canonical: sorted keys, no indentation
			out[strings.ToUpper(m)+" "+p] = string(b)
		}
	}
	return out
}
