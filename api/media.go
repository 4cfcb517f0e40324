package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// Media types of the Grid'5000-style API. Plain application/json is served too.
const (
	ItemType       = "application/vnd.gridflow.item+json"
	CollectionType = "application/vnd.gridflow.collection+json"
	JSONType       = "application/json"
)

// Link relates a resource to another one.
type Link struct {
	Rel  string `json:"rel" doc:"Relation: self, parent, next, prev or the name of a sub-resource" example:"self"`
	Href string `json:"href" doc:"Target path" example:"/v1/sites/rennes"`
	Type string `json:"type" doc:"Media type of the target" example:"application/vnd.gridflow.item+json"`
}

// itemMedia is embedded in item bodies: it makes huma label them with the item
// media type unless the client asked for plain JSON.
type itemMedia struct{}

// ContentType implements huma.ContentTypeFilter.
func (itemMedia) ContentType(ct string) string {
	if ct == JSONType {
		return ct
	}
	return ItemType
}

// Collection is the body of every list: {items, total, offset, links}.
type Collection[T any] struct {
	Items  []T    `json:"items" doc:"The items of this page"`
	Total  int    `json:"total" doc:"Number of items in the whole collection"`
	Offset int    `json:"offset" doc:"Index of the first item of this page in the collection"`
	Links  []Link `json:"links"`
}

// ContentType implements huma.ContentTypeFilter.
func (Collection[T]) ContentType(ct string) string {
	if ct == JSONType {
		return ct
	}
	return CollectionType
}

// Paging is embedded in list inputs.
type Paging struct {
	Offset int `query:"offset" minimum:"0" default:"0" doc:"Index of the first item to return"`
	Limit  int `query:"limit" minimum:"1" maximum:"1000" default:"50" doc:"Maximum number of items to return"`
}

// window returns the bounds of the page within n items.
func (p Paging) window(n int) (lo, hi int) {
	lo = min(p.Offset, n)
	hi = min(lo+p.Limit, n)
	return lo, hi
}

type prefixKey struct{}

// base returns the API prefix the client used (/v1 or /stable), so that links
// keep the client on the version it chose.
func base(ctx context.Context) string {
	if p, ok := ctx.Value(prefixKey{}).(string); ok {
		return p
	}
	return "/v1"
}

func link(ctx context.Context, rel, path, typ string) Link {
	return Link{Rel: rel, Href: base(ctx) + path, Type: typ}
}

// page builds a collection page of items with self/parent/next/prev links.
func page[T any](ctx context.Context, all []T, p Paging, path, parent string, extra string) Collection[T] {
	lo, hi := p.window(len(all))
	return storePage(ctx, all[lo:hi], len(all), p, path, parent, extra)
}

// storePage builds the collection for a page the store already cut: items
// start at p.Offset in a list of total.
func storePage[T any](ctx context.Context, items []T, total int, p Paging, path, parent string, extra string) Collection[T] {
	lo, hi := p.window(total)
	if items == nil {
		items = []T{}
	}
	q := func(off int) string {
		s := fmt.Sprintf("%s?offset=%d&limit=%d", path, off, p.Limit)
		if extra != "" {
			s += "&" + extra
		}
		return s
	}
	links := []Link{link(ctx, "self", q(lo), CollectionType)}
	if parent != "" {
		links = append(links, link(ctx, "parent", parent, ItemType))
	}
	if hi < total {
		links = append(links, link(ctx, "next", q(hi), CollectionType))
	}
	if lo > 0 {
		links = append(links, link(ctx, "prev", q(max(lo-p.Limit, 0)), CollectionType))
	}
	return Collection[T]{Items: items, Total: total, Offset: lo, Links: links}
}

// negotiate turns the ".json" suffix into Accept: application/json, maps /stable
// to the newest version, and answers 406 when the client accepts nothing we serve.
func negotiate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		prefix := "/v1"
		if path == "/stable" || strings.HasPrefix(path, "/stable/") {
			prefix = "/stable"
			path = "/v1" + strings.TrimPrefix(path, "/stable")
		}
		if !strings.HasPrefix(path, "/v1") {
			next.ServeHTTP(w, r)
			return
		}
		if strings.HasSuffix(path, ".json") {
			path = strings.TrimSuffix(path, ".json")
			r.Header.Set("Accept", JSONType)
		}
		if path != r.URL.Path {
			// Rewrite the escaped form the same way: the router matches on
			// it, and an escaped "/" or "." in a path parameter (…/users/
			// ..%2Fx) is data. Dropping RawPath would turn it back into path
			// structure: a request for another route, or a redirect to one.
			esc := r.URL.EscapedPath()
			if prefix == "/stable" {
				esc = "/v1" + strings.TrimPrefix(esc, "/stable")
			}
			r.URL.Path, r.URL.RawPath = path, strings.TrimSuffix(esc, ".json")
		}
		r = r.WithContext(context.WithValue(r.Context(), prefixKey{}, prefix))
		if !strings.HasSuffix(path, "/events") {
			ct, ok := acceptable(r.Header.Get("Accept"))
			if !ok {
				writeProblem(w, http.StatusNotAcceptable, fmt.Sprintf("cannot produce any of %q: this API serves %s, %s and %s (or add .json to the path)", r.Header.Get("Accept"), ItemType, CollectionType, JSONType))
				return
			}
			r.Header.Set("Accept", ct)
		}
		next.ServeHTTP(w, r)
	})
}

// acceptable maps an Accept header to the format huma should marshal with:
// plain JSON when the client names it, else our vendor type (the body then picks
// item or collection).
func acceptable(accept string) (string, bool) {
	if strings.TrimSpace(accept) == "" {
		return ItemType, true
	}
	vendor, plain := false, false
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.Contains(strings.ReplaceAll(params, " ", ""), "q=0") && !strings.Contains(params, "q=0.") {
			continue // q=0 means "not acceptable"
		}
		switch strings.ToLower(strings.TrimSpace(mt)) {
		case ItemType, CollectionType, "*/*", "application/*":
			vendor = true
		case JSONType, "application/problem+json":
			plain = true
		}
	}
	switch {
	case plain && !vendor:
		return JSONType, true
	case vendor:
		return ItemType, true
	}
	return "", false
}
