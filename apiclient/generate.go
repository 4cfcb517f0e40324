// Package apiclient is a Go client of Gridflow's REST API, generated with
// oapi-codegen from the API's OpenAPI document in its 3.0 form (huma's
// downgrade of the 3.1 document, completed to valid 3.0 by internal/spec),
// committed beside it as openapi-3.0.json.
//
// Regenerate both after a change to the API:
//
//	go generate ./apiclient/
//
// A test of internal/spec fails while the committed document differs from
// the API's, so the client cannot silently fall behind; the same package
// checks the document with kin-openapi's validator.
//
// Use NewClientWithResponses with a request editor that sets the
// credentials:
//
//	c, err := apiclient.NewClientWithResponses("http://127.0.0.1:8080",
//		apiclient.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
//			r.Header.Set("Authorization", "Bearer "+token)
//			return nil
//		}))
//	res, err := c.GetWhoamiWithResponse(ctx)
package apiclient

//go:generate go run ./internal/specgen -o openapi-3.0.json
//go:generate go tool oapi-codegen -config oapi-codegen.yaml openapi-3.0.json
