package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/gridflow/gridflow/engine"
)

// specServer is the API over an engine without a store or Temporal:
// enough to render and serve its OpenAPI document, which depends only on
// the registered operations.
func specServer(t *testing.T) *Server {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return New(engine.New(nil, nil, log), Options{Logger: log})
}

// served fetches a document through the API's own handler, as a client would.
func served(t *testing.T, h http.Handler, path string) []byte {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s = %d: %s", path, rec.Code, rec.Body.String())
	}
	return rec.Body.Bytes()
}

// TestOpenAPIDocumentValidates checks the OpenAPI 3.1 document the API
// serves with a standard validator (kin-openapi): structure, references,
// schemas, and the examples against their schemas. It also requires what
// generated clients need: a unique operationId on every operation. (The
// 3.0 form the generated client is made from is checked in
// apiclient/internal/spec.)
func TestOpenAPIDocumentValidates(t *testing.T) {
	srv := specServer(t)
	for _, tc := range []struct{ path, version string }{
		{"/openapi.json", "3.1.0"},
		{"/openapi.yaml", "3.1.0"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			raw := served(t, srv, tc.path)
			loader := openapi3.NewLoader()
			doc, err := loader.LoadFromData(raw)
			if err != nil {
				t.Fatalf("loading %s: %v", tc.path, err)
			}
			if doc.OpenAPI != tc.version {
				t.Fatalf("%s says openapi %q, want %q", tc.path, doc.OpenAPI, tc.version)
			}
			if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation(), openapi3.EnableMultiError()); err != nil {
				t.Fatalf("%s does not validate:\n%v", tc.path, err)
			}
			ids := map[string]string{}
			ops := 0
			for path, item := range doc.Paths.Map() {
				for method, op := range item.Operations() {
					ops++
					where := method + " " + path
					switch {
					case op.OperationID == "":
						t.Errorf("%s has no operationId", where)
					case ids[op.OperationID] != "":
						t.Errorf("operationId %q on both %s and %s", op.OperationID, ids[op.OperationID], where)
					default:
						ids[op.OperationID] = where
					}
				}
			}
			// The API has far more operations than this; a document that
			// lost most of them would still validate.
			if ops < 50 {
				t.Errorf("%s describes %d operations, want the whole API", tc.path, ops)
			}
			t.Logf("%s: OpenAPI %s, %d paths, %d operations, %d schemas: valid", tc.path, doc.OpenAPI,
				doc.Paths.Len(), ops, len(doc.Components.Schemas))
		})
	}
}

// TestIdempotentSubmissionsDocumentTheirOtherAnswer: operations that answer
// 201 for a new resource and 200 for one that existed (a sid, a PUT) declare
// both, with the same body, so that generated clients decode either.
func TestIdempotentSubmissionsDocumentTheirOtherAnswer(t *testing.T) {
	srv := specServer(t)
	doc := srv.api.OpenAPI()
	for _, c := range []struct{ method, path string }{
		{http.MethodPost, "/v1/transfers"},
		{http.MethodPost, "/v1/campaigns"},
		{http.MethodPut, "/v1/filecatalogue/directory/{dir}"},
	} {
		op := doc.Paths[c.path].Post
		if c.method == http.MethodPut {
			op = doc.Paths[c.path].Put
		}
		created, existed := op.Responses["201"], op.Responses["200"]
		if created == nil || existed == nil || existed.Content["application/json"] == nil ||
			existed.Content["application/json"].Schema != created.Content["application/json"].Schema {
			t.Errorf("%s %s: responses %v, want 200 beside 201 with the same body", c.method, c.path, keys(op.Responses))
		}
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
