package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/cespare/xxhash/v2"
	"github.com/danielgtaylor/huma/v2"
)

// problem is an RFC 9457 body for errors raised outside huma's handlers.
type problem struct {
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

func writeProblem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Del("Content-Length")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(problem{Title: http.StatusText(status), Status: status, Detail: detail})
}

// bufferedWriter holds a GET response so that its ETag can be computed from the
// bytes the client would get, and so that the mux's plain-text 404/405 can be
// replaced with problem details.
type bufferedWriter struct {
	header http.Header
	status int
	buf    bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }
func (b *bufferedWriter) WriteHeader(s int) {
	if b.status == 0 {
		b.status = s
	}
}
func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.buf.Write(p)
}

var bufferPool = sync.Pool{New: func() any { return &bufferedWriter{} }}

// conditional adds ETag and Cache-Control to successful GET/HEAD responses of the
// API, answers 304 to a matching If-None-Match, and rewrites the router's
// plain-text 404/405 into problem+json. Streams (SSE) pass through untouched.
func conditional(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/events") || r.Header.Get("Accept") == "text/event-stream" {
			next.ServeHTTP(w, r)
			return
		}
		bw := bufferPool.Get().(*bufferedWriter)
		bw.header, bw.status = w.Header(), 0
		bw.buf.Reset()
		defer bufferPool.Put(bw)
		next.ServeHTTP(bw, r)
		status := bw.status
		if status == 0 {
			status = http.StatusOK
		}
		h := w.Header()
		if (status == http.StatusNotFound || status == http.StatusMethodNotAllowed) && strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
			// The mux's own answer: no route, or a route without this method.
			detail := "no resource at " + r.URL.Path + ": see /openapi.json for the available paths"
			if status == http.StatusMethodNotAllowed {
				detail = r.Method + " is not supported on " + r.URL.Path + "; allowed: " + h.Get("Allow")
			}
			h.Del("X-Content-Type-Options")
			writeProblem(w, status, detail)
			return
		}
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && status == http.StatusOK {
			// A weak validator only needs to change when the bytes do: a fast
			// non-cryptographic hash keeps this off the profile.
			etag := `W/"` + strconv.FormatUint(xxhash.Sum64(bw.buf.Bytes()), 36) + `"`
			h.Set("ETag", etag)
			h.Add("Vary", "Accept")
			if h.Get("Cache-Control") == "" {
				// Authenticated, live data: caches must revalidate, which the ETag makes cheap.
				h.Set("Cache-Control", "private, no-cache")
			}
			if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, etag) {
				h.Del("Content-Type")
				h.Del("Content-Length")
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
		w.WriteHeader(status)
		if r.Method != http.MethodHead {
			_, _ = w.Write(bw.buf.Bytes())
		}
	})
}

func etagMatch(header, etag string) bool {
	weak := strings.TrimPrefix(etag, "W/")
	for part := range strings.SplitSeq(header, ",") {
		p := strings.TrimSpace(part)
		if p == "*" || strings.TrimPrefix(p, "W/") == weak {
			return true
		}
	}
	return false
}

// problemError is huma's error model, always labelled application/problem+json
// (huma would otherwise echo the negotiated vendor type on errors).
type problemError struct{ *huma.ErrorModel }

// ContentType implements huma.ContentTypeFilter.
func (problemError) ContentType(string) string { return "application/problem+json" }

func init() {
	base := huma.NewError
	huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
		se := base(status, msg, errs...)
		if em, ok := se.(*huma.ErrorModel); ok {
			return problemError{em}
		}
		return se
	}
	huma.NewErrorWithContext = func(_ huma.Context, status int, msg string, errs ...error) huma.StatusError {
		return huma.NewError(status, msg, errs...)
	}
}
