package api

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// refCache keeps rendered responses of the reference API (sites, clusters,
// nodes). They are the same for every authenticated caller and change only
// with the testbed version and the node states, which are part of the key,
// so a hit is always what the handler would render now.
type refCache struct {
	mu      sync.RWMutex
	entries map[string]*cachedResponse
}

type cachedResponse struct {
	header http.Header
	body   []byte
}

const refCacheMax = 20000

// cacheable: reference reads only; live or per-user data (reservations,
// node runtime, a reservation's nodes) is never cached.
func cacheable(r *http.Request) bool {
	if r.Method != http.MethodGet {
		return false
	}
	p := r.URL.Path
	switch {
	case p == "/v1/nodes":
		return !strings.Contains(r.URL.RawQuery, "reservation=")
	case p == "/v1/sites":
		return true
	case strings.HasPrefix(p, "/v1/sites/"):
		// A site, its versions and its clusters (with their nodes) are
		// reference data; a site's reservations, deployments and anything
		// else added under it are per user and live, so they are not
		// cached (the key has no caller: a hit would hand one user's
		// answer to another).
		_, rest, _ := strings.Cut(strings.TrimPrefix(p, "/v1/sites/"), "/")
		sub, _, _ := strings.Cut(rest, "/")
		return sub == "" || sub == "versions" || sub == "clusters"
	}
	return false
}

// refCacheMiddleware serves cacheable GETs from the cache once the caller is
// authenticated; anything else goes to the handlers.
func (s *Server) refCacheMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !cacheable(r) {
			next.ServeHTTP(w, r)
			return
		}
		p, err := s.authenticate(r.Context(), r.Header.Get("Authorization"))
		if p == nil || err != nil {
			next.ServeHTTP(w, r) // the handlers answer 401 with their message
			return
		}
		snap, err := s.eng.Current(r.Context())
		if err != nil {
			next.ServeHTTP(w, r)
			return
		}
		states, err := s.eng.NodeStates(r.Context())
		if err != nil {
			next.ServeHTTP(w, r)
			return
		}
		// The states map is replaced whenever it is read again, so its
		// identity versions the live part of the representation.
		key := fmt.Sprintf("%s|%s|%s|%s|%p", base(r.Context()), r.URL.RequestURI(), r.Header.Get("Accept"), snap.Version.UID, states)
		s.cache.mu.RLock()
		hit := s.cache.entries[key]
		s.cache.mu.RUnlock()
		if hit != nil {
			h := w.Header()
			for k, v := range hit.header {
				h[k] = v
			}
			h.Set("X-Api-User", p.User.Name)
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(hit.body)
			return
		}
		rec := &bufferedWriter{header: w.Header()}
		next.ServeHTTP(rec, r)
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		if status == http.StatusOK {
			hdr := rec.header.Clone()
			hdr.Del("X-Api-User")
			body := append([]byte(nil), rec.buf.Bytes()...)
			s.cache.mu.Lock()
			if len(s.cache.entries) >= refCacheMax {
				clear(s.cache.entries) // bounded; stale keys never hit again anyway
			}
			s.cache.entries[key] = &cachedResponse{header: hdr, body: body}
			s.cache.mu.Unlock()
		}
		w.WriteHeader(status)
		_, _ = w.Write(rec.buf.Bytes())
	})
}
