// Package api is Gridflow's REST API: huma operations, one file per resource, in
// the Grid'5000 style (item/collection media types with links, paging, ETags,
// problem+json errors). It imports the engine and the DSL, never workflows.
package api

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gridflow/gridflow/engine"
)

// Version is the API version reported in the OpenAPI document.
const Version = "1.0.0"

// Options tune the HTTP layer.
type Options struct {
	Logger *slog.Logger
	// Registry receives the HTTP metrics; nil uses a private registry.
	Registry *prometheus.Registry
	// MaxBodyBytes caps request bodies (default 16 MiB, the largest
	// operation limit: a transfer job of many files).
	MaxBodyBytes int64
}

// Server is the HTTP face of one engine.
type Server struct {
	eng     *engine.Engine
	log     *slog.Logger
	api     huma.API
	handler http.Handler
	auth    authCache
	cache   refCache
	metrics *httpMetrics
	started time.Time
}

// New builds the API over an engine.
func New(eng *engine.Engine, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.MaxBodyBytes == 0 {
		// The outer ceiling; each operation has its own, smaller limit
		// (huma's 1 MiB unless it says otherwise).
		opts.MaxBodyBytes = 16 << 20
	}
	s := &Server{eng: eng, log: opts.Logger, auth: authCache{entries: map[[32]byte]authEntry{}}, cache: refCache{entries: map[string]*cachedResponse{}}, started: time.Now()}
	s.metrics = newHTTPMetrics(opts.Registry)

	mux := http.NewServeMux()
	cfg := huma.DefaultConfig("Gridflow API", Version)
	cfg.Info.Description = "Reservations, deployments, transfers and containers on shared testbeds, as durable workflows. " +
		"Items are `" + ItemType + "`, lists `" + CollectionType + "`; `application/json` is served too (Accept, or a `.json` suffix). " +
		"`/stable/…` is an alias of `/v1/…`."
	cfg.CreateHooks = nil // no $schema field or Link header: the Grid'5000 media types carry their own links
	cfg.DocsPath = ""     // served offline by docs.go
	cfg.OpenAPIPath = "/openapi"
	json := huma.DefaultJSONFormat
	cfg.Formats = map[string]huma.Format{
		JSONType:       json,
		ItemType:       json,
		CollectionType: json,
		"json":         json,
	}
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"basic":  {Type: "http", Scheme: "basic", Description: "User name and password"},
		"bearer": {Type: "http", Scheme: "bearer", Description: "A token from POST /v1/oauth2/token or an administrator"},
		"oauth2": {Type: "oauth2", Flows: &huma.OAuthFlows{ClientCredentials: &huma.OAuthFlow{TokenURL: "/v1/oauth2/token", Scopes: map[string]string{}}}},
	}
	api := humago.New(mux, cfg)
	api.UseMiddleware(s.metrics.middleware, s.authMiddleware(api))
	s.api = api

	s.registerOps(api, mux, opts.Registry)
	s.registerDocs(mux)
	s.registerAuth(api)
	s.registerUsers(api)
	s.registerReference(api)
	s.registerTestbed(api)
	s.registerReservations(api)
	s.registerDeployments(api)
	s.registerTransfers(api)
	s.registerFileCatalogue(api)
	s.registerJobs(api)
	s.registerCampaigns(api)
	s.registerNodeRuntime(api)
	s.registerContainers(api)

	s.handler = s.metrics.wrap(negotiate(conditional(s.refCacheMiddleware(limitBody(opts.MaxBodyBytes, mux)))))
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// OpenAPI returns the generated OpenAPI document.
func (s *Server) OpenAPI() *huma.OpenAPI { return s.api.OpenAPI() }

// limitBody caps every request body; huma also enforces a per-operation limit,
// this one covers the handlers outside huma.
func limitBody(n int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > n {
			writeProblem(w, http.StatusRequestEntityTooLarge, "request body too large: the limit is "+strconv.FormatInt(n, 10)+" bytes")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, n)
		next.ServeHTTP(w, r)
	})
}

// defaultMaxBodyBytes is huma's limit for an operation with a Body. huma
// sets none on an operation that reads a RawBody instead, which then reads up
// to the outer limit and answers 500 past it: op gives every operation this
// one unless it sets its own.
const defaultMaxBodyBytes = 1 << 20

// op declares a protected operation with the common fields filled in.
func op(id, method, path, summary string, tags ...string) huma.Operation {
	return huma.Operation{OperationID: id, Method: method, Path: path, Summary: summary, Tags: tags, Security: secured,
		MaxBodyBytes: defaultMaxBodyBytes}
}

// public declares an operation that needs no credentials.
func public(id, method, path, summary string, tags ...string) huma.Operation {
	o := op(id, method, path, summary, tags...)
	o.Security = nil
	return o
}
