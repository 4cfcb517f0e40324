// Package metrics exports the Temporal SDK's client and worker metrics
// (workflow and activity counts, latencies, poller state) to Prometheus.
//
// The SDK reports through its small metrics.Handler interface; Prometheus wants
// every metric registered once with fixed label names. The handler below keeps
// the tags Gridflow cares about as labels and drops the rest.
package metrics

import (
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	sdkmetrics "go.temporal.io/sdk/client"
)

// labels are the SDK tags kept; a tag a metric lacks is an empty label.
var labels = []string{"namespace", "task_queue", "workflow_type", "activity_type"}

// Handler implements the SDK's client.MetricsHandler over a Prometheus registry.
type Handler struct {
	r    *registry
	tags map[string]string
}

type registry struct {
	reg      prometheus.Registerer
	mu       sync.Mutex
	counters map[string]*prometheus.CounterVec
	gauges   map[string]*prometheus.GaugeVec
	timers   map[string]*prometheus.HistogramVec
}

// NewHandler returns a handler that registers its metrics in reg.
func NewHandler(reg prometheus.Registerer) *Handler {
	return &Handler{r: &registry{reg: reg, counters: map[string]*prometheus.CounterVec{},
		gauges: map[string]*prometheus.GaugeVec{}, timers: map[string]*prometheus.HistogramVec{}}}
}

var _ sdkmetrics.MetricsHandler = (*Handler)(nil)

// WithTags implements client.MetricsHandler.
func (h *Handler) WithTags(tags map[string]string) sdkmetrics.MetricsHandler {
	merged := make(map[string]string, len(h.tags)+len(tags))
	for k, v := range h.tags {
		merged[k] = v
	}
	for k, v := range tags {
		merged[k] = v
	}
	return &Handler{r: h.r, tags: merged}
}

func (h *Handler) values() []string {
	out := make([]string, len(labels))
	for i, l := range labels {
		out[i] = h.tags[l]
	}
	return out
}

func name(n string) string { return strings.NewReplacer(".", "_", "-", "_").Replace(n) }

// register returns the collector already registered under that name, if any.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
			return are.ExistingCollector.(C)
		}
	}
	return c
}

// Counter implements client.MetricsHandler.
func (h *Handler) Counter(n string) sdkmetrics.MetricsCounter {
	h.r.mu.Lock()
	v, ok := h.r.counters[n]
	if !ok {
		v = register(h.r.reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: name(n), Help: "Temporal SDK counter " + n}, labels))
		h.r.counters[n] = v
	}
	h.r.mu.Unlock()
	c := v.WithLabelValues(h.values()...)
	return counterFunc(func(d int64) { c.Add(float64(d)) })
}

// Gauge implements client.MetricsHandler.
func (h *Handler) Gauge(n string) sdkmetrics.MetricsGauge {
	h.r.mu.Lock()
	v, ok := h.r.gauges[n]
	if !ok {
		v = register(h.r.reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name(n), Help: "Temporal SDK gauge " + n}, labels))
		h.r.gauges[n] = v
	}
	h.r.mu.Unlock()
	g := v.WithLabelValues(h.values()...)
	return gaugeFunc(g.Set)
}

// Timer implements client.MetricsHandler.
func (h *Handler) Timer(n string) sdkmetrics.MetricsTimer {
	h.r.mu.Lock()
	v, ok := h.r.timers[n]
	if !ok {
		v = register(h.r.reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name(n) + "_seconds", Help: "Temporal SDK timer " + n,
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}, labels))
		h.r.timers[n] = v
	}
	h.r.mu.Unlock()
	o := v.WithLabelValues(h.values()...)
	return timerFunc(func(d time.Duration) { o.Observe(d.Seconds()) })
}

type counterFunc func(int64)

func (f counterFunc) Inc(d int64) { f(d) }

type gaugeFunc func(float64)

func (f gaugeFunc) Update(v float64) { f(v) }

type timerFunc func(time.Duration)

func (f timerFunc) Record(d time.Duration) { f(d) }
