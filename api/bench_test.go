package api

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

// benchGET compares Gridflow's handler for path with a bare net/http handler
// that writes the same bytes, in one loop so both see the same machine load.
// It reports each one's server time, p50 latencies and the throughput ratio
// (target: gridflow/bare >= 0.5, p50 < 1 ms).
func benchGET(b *testing.B, path string) {
	f := newFixture(&testing.T{})
	defer f.srv.Close()
	get := func(h http.Handler) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.Header.Set("Authorization", "Bearer "+f.alice)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	ref := get(f.handle)
	if ref.Code != http.StatusOK {
		b.Fatalf("GET %s = %d: %s", path, ref.Code, ref.Body)
	}
	body, ctype, etag := ref.Body.Bytes(), ref.Header().Get("Content-Type"), ref.Header().Get("ETag")
	bare := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("ETag", etag)
		_, _ = w.Write(body)
	})
	gf := make([]time.Duration, 0, b.N)
	bt := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		get(f.handle)
		t1 := time.Now()
		get(bare)
		t2 := time.Now()
		gf = append(gf, t1.Sub(t0))
		bt = append(bt, t2.Sub(t1))
	}
	b.StopTimer()
	sum := func(d []time.Duration) (s time.Duration) {
		for _, x := range d {
			s += x
		}
		return s
	}
	p50 := func(d []time.Duration) float64 {
		slices.Sort(d)
		return float64(d[len(d)/2].Nanoseconds()) / 1000
	}
	b.ReportMetric(float64(sum(gf).Nanoseconds())/float64(len(gf)), "gridflow-ns/req")
	b.ReportMetric(float64(sum(bt).Nanoseconds())/float64(len(bt)), "bare-ns/req")
	b.ReportMetric(float64(sum(bt))/float64(sum(gf)), "throughput-ratio")
	gp50, bp50 := p50(gf), p50(bt)
	b.ReportMetric(gp50, "gridflow-p50-µs")
	b.ReportMetric(bp50, "bare-p50-µs")
	if gp50 > 0 {
		b.ReportMetric(bp50/gp50, "p50-ratio")
	}
	b.ReportMetric(float64(len(body)), "bytes")
}

func BenchmarkGetNodeItem(b *testing.B) {
	benchGET(b, "/v1/sites/rennes/clusters/paravance/nodes/paravance-7")
}

func BenchmarkGetNodePage50(b *testing.B) {
	benchGET(b, "/v1/sites/rennes/clusters/paravance/nodes?limit=50")
}
