package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// httpMetrics counts requests by operation and status, and times them.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg *prometheus.Registry) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gridflow_http_requests_total", Help: "HTTP requests by operation, method and status.",
		}, []string{"operation", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gridflow_http_request_duration_seconds", Help: "Time to handle an HTTP request, by operation.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"operation"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

type opKey struct{}

// wrap measures every request; the operation id is filled in by middleware, so
// requests that never reach an operation are labelled "none".
func (m *httpMetrics) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := new(string)
		*id = "none"
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), opKey{}, id)))
		m.requests.WithLabelValues(*id, r.Method, strconv.Itoa(sw.status)).Inc()
		m.duration.WithLabelValues(*id).Observe(time.Since(start).Seconds())
	})
}

func (m *httpMetrics) middleware(ctx huma.Context, next func(huma.Context)) {
	if id, ok := ctx.Context().Value(opKey{}).(*string); ok && ctx.Operation() != nil {
		*id = ctx.Operation().OperationID
	}
	next(ctx)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(s int)           { w.status = s; w.ResponseWriter.WriteHeader(s) }
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

type healthOutput struct {
	Body struct {
		Status string `json:"status" example:"ok"`
		Uptime string `json:"uptime,omitempty"`
		Detail string `json:"detail,omitempty"`
	}
}

type rootOutput struct {
	Body rootItem
}

type rootItem struct {
	itemMedia
	UID         string `json:"uid" example:"gridflow"`
	Type        string `json:"type" example:"grid"`
	Version     string `json:"version"`
	Description string `json:"description"`
	Links       []Link `json:"links"`
}

func (s *Server) registerOps(api huma.API, mux *http.ServeMux, reg *prometheus.Registry) {
	huma.Register(api, public("get-root", http.MethodGet, "/v1", "API entry point with links to every collection", "reference"),
		func(ctx context.Context, _ *struct{}) (*rootOutput, error) {
			out := &rootOutput{}
			out.Body = rootItem{UID: "gridflow", Type: "grid", Version: Version,
				Description: "Gridflow: durable campaigns on shared testbeds",
				Links: []Link{
					link(ctx, "self", "", ItemType),
					link(ctx, "sites", "/sites", CollectionType),
					link(ctx, "nodes", "/nodes", CollectionType),
					link(ctx, "versions", "/versions", CollectionType),
					link(ctx, "whoami", "/whoami", ItemType),
					link(ctx, "users", "/users", CollectionType),
					link(ctx, "projects", "/projects", CollectionType),
					{Rel: "openapi", Href: "/openapi.json", Type: "application/openapi+json"},
					{Rel: "docs", Href: "/docs", Type: "text/html"},
				}}
			return out, nil
		})
	huma.Register(api, public("healthz", http.MethodGet, "/healthz", "Liveness: the process answers", "operations"),
		func(ctx context.Context, _ *struct{}) (*healthOutput, error) {
			out := &healthOutput{}
			out.Body.Status = "ok"
			out.Body.Uptime = time.Since(s.started).Round(time.Second).String()
			return out, nil
		})
	huma.Register(api, public("readyz", http.MethodGet, "/readyz", "Readiness: the store and Temporal answer", "operations"),
		func(ctx context.Context, _ *struct{}) (*healthOutput, error) {
			cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			if err := s.eng.Ready(cctx); err != nil {
				return nil, huma.Error503ServiceUnavailable("not ready: " + err.Error())
			}
			out := &healthOutput{}
			out.Body.Status = "ready"
			return out, nil
		})
	mux.Handle("GET /metrics", promhttp.HandlerFor(prometheus.Gatherers{reg, prometheus.DefaultGatherer}, promhttp.HandlerOpts{}))
}

// alsoAnswers declares in the OpenAPI document that an operation registered
// with a default status (201) may also answer status with the same body and
// headers: huma documents the default only, and clients generated from the
// document would not decode the other answer.
func alsoAnswers(api huma.API, method, path string, status int, description string) {
	item := api.OpenAPI().Paths[path]
	if item == nil {
		panic("alsoAnswers: no path " + path)
	}
	var o *huma.Operation
	switch method {
	case http.MethodPost:
		o = item.Post
	case http.MethodPut:
		o = item.Put
	}
	if o == nil || o.Responses[strconv.Itoa(o.DefaultStatus)] == nil {
		panic("alsoAnswers: no " + method + " " + path + " with a default response")
	}
	r := *o.Responses[strconv.Itoa(o.DefaultStatus)]
	r.Description = description
	o.Responses[strconv.Itoa(status)] = &r
}
