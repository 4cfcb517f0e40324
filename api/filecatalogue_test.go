package api

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

const fcBase = "/v1/filecatalogue"

func b64(p string) string    { return base64.URLEncoding.EncodeToString([]byte(p)) }
func b64raw(p string) string { return base64.RawURLEncoding.EncodeToString([]byte(p)) }

func fcDir(p string) string  { return fcBase + "/directory/" + b64(p) }
func fcFile(p string) string { return fcBase + "/file/" + b64(p) }

// putJSON sends a JSON body.
func (f *fixture) send(method, path, token, body string) resp {
	f.t.Helper()
	return f.do(req{method: method, path: path, token: token, contentType: "application/json", body: body})
}

func TestFileCatalogueBase64Paths(t *testing.T) {
	f := newFixture(t)
	for _, p := range []string{"/alice/run 1/out.dat", "/alice/é/ü+?.dat", "/alice/a"} {
		wantStatus(t, f.send(http.MethodPut, fcFile(p), f.alice, `{"size":1}`), 201)
		// Padded or not, the same file; its uid and links round-trip.
		for _, enc := range []string{b64(p), b64raw(p)} {
			r := f.do(req{path: fcBase + "/file/" + enc + "/attributes", token: f.alice})
			wantStatus(t, r, 200)
			m := r.json(t)
			raw, err := base64.URLEncoding.DecodeString(m["uid"].(string))
			if err != nil || string(raw) != p || m["path"] != p {
				t.Fatalf("uid %v (%s) path %v, want %q", m["uid"], raw, m["path"], p)
			}
			if self := links(t, m)["self"]; self != fcFile(p)+"/attributes" {
				t.Fatalf("self %q", self)
			}
		}
	}
	// The root, padded and not.
	wantStatus(t, f.do(req{path: fcBase + "/directory/Lw==", token: f.alice}), 200)
	wantStatus(t, f.do(req{path: fcBase + "/directory/Lw", token: f.alice}), 200)
	// Not base64: 400 naming the parameter.
	wantProblem(t, f.do(req{path: fcBase + "/directory/***", token: f.alice}), 400, "is not URL-safe base64")
	wantProblem(t, f.do(req{path: fcBase + "/directory/L2Fs+A", token: f.alice}), 400, "standard alphabet")
	wantProblem(t, f.do(req{path: fcBase + "/file/L2Fs*A/attributes", token: f.alice}), 400, "file:")
	wantProblem(t, f.do(req{method: http.MethodPut, path: fcBase + "/file/%25%25", token: f.alice, contentType: "application/json", body: `{"size":1}`}), 400, "file:")
	// Base64 of something that is not an absolute path: 422 naming the parameter.
	wantProblem(t, f.do(req{path: fcBase + "/directory/" + b64("alice"), token: f.alice}), 422, "dir: ")
	wantProblem(t, f.do(req{path: fcBase + "/directory/" + b64("/a//b"), token: f.alice}), 422, "empty name")
	wantProblem(t, f.do(req{path: fcBase + "/file/" + b64("/a/../b") + "/attributes", token: f.alice}), 422, "file: ")
	wantProblem(t, f.do(req{path: fcBase + "/directory/" + b64("/a\x00"), token: f.alice}), 422, "control character")
}

func TestFileCatalogueFiles(t *testing.T) {
	f := newFixture(t)
	const lfn = "/alice/run1/out.dat"
	r := f.send(http.MethodPut, fcFile(lfn), f.alice, `{"size":42,"checksum":"ADLER32:0A1B2C3D","replicas":["node://paravance-1/data/out.dat","file:///srv/data/out.dat"],"metadata":{"quality":"good","events":1000}}`)
	wantStatus(t, r, 201)
	if loc := r.header.Get("Location"); loc != fcFile(lfn)+"/attributes" {
		t.Fatalf("Location %q", loc)
	}
	m := r.json(t)
	if m["size"] != 42.0 || m["checksum"] != "adler32:0a1b2c3d" || m["owner"] != "alice" || m["directory"] != "/alice/run1" || m["name"] != "out.dat" || len(m["replicas"].([]any)) != 2 {
		t.Fatalf("registered %v", m)
	}

	// Attributes and metadata, read by anyone authenticated.
	a := f.do(req{path: fcFile(lfn) + "/attributes", token: f.bob})
	wantStatus(t, a, 200)
	if a.header.Get("ETag") == "" || a.json(t)["created_at"] == nil {
		t.Fatalf("attributes %v %s", a.header, a.body)
	}
	l := links(t, a.json(t))
	if l["parent"] != fcDir("/alice/run1")+"/metadata" || l["metadata"] != fcFile(lfn)+"/metadata" {
		t.Fatalf("links %v", l)
	}
	wantStatus(t, f.send(http.MethodPut, fcDir("/alice/run1")+"/metadata", f.alice, `{"metadata":{"run":1}}`), 200)
	md := f.do(req{path: fcFile(lfn) + "/metadata", token: f.bob})
	wantStatus(t, md, 200)
	mm := md.json(t)
	if !reflect.DeepEqual(mm["metadata"], map[string]any{"quality": "good", "events": 1000.0, "run": 1.0}) ||
		!reflect.DeepEqual(mm["inherited_from"], map[string]any{"run": "/alice/run1"}) {
		t.Fatalf("file metadata %v", mm)
	}
	r = f.send(http.MethodPut, fcFile(lfn)+"/metadata", f.alice, `{"metadata":{"quality":"bad","events":null}}`)
	wantStatus(t, r, 200)
	if got := r.json(t)["metadata"]; !reflect.DeepEqual(got, map[string]any{"quality": "bad", "run": 1.0}) {
		t.Fatalf("metadata after change %v", got)
	}

	// Replicas: added (canonical), twice is a conflict, removed by URL.
	r = f.send(http.MethodPost, fcFile(lfn)+"/replicas", f.alice, `{"url":"HTTPS://Storage.Example.org:443/out.dat"}`)
	wantStatus(t, r, 201)
	var urls []string
	for _, rep := range r.json(t)["replicas"].([]any) {
		urls = append(urls, rep.(map[string]any)["url"].(string))
	}
	if len(urls) != 3 || !strings.Contains(strings.Join(urls, " "), "https://storage.example.org/out.dat") {
		t.Fatalf("replicas %v", urls)
	}
	wantProblem(t, f.send(http.MethodPost, fcFile(lfn)+"/replicas", f.alice, `{"url":"https://storage.example.org/out.dat"}`), 409, "already a replica")
	wantProblem(t, f.send(http.MethodPost, fcFile(lfn)+"/replicas", f.alice, `{"url":"ftp://x/y"}`), 422, "body.url")
	wantProblem(t, f.send(http.MethodPost, fcFile("/alice/none")+"/replicas", f.alice, `{"url":"node://n-1/x"}`), 404, "no file /alice/none")
	wantStatus(t, f.do(req{method: http.MethodDelete, path: fcFile(lfn) + "/replicas?url=" + url.QueryEscape("https://storage.example.org/out.dat"), token: f.alice}), 204)
	wantProblem(t, f.do(req{method: http.MethodDelete, path: fcFile(lfn) + "/replicas?url=" + url.QueryEscape("https://storage.example.org/out.dat"), token: f.alice}), 404, "not a replica")
	wantProblem(t, f.do(req{method: http.MethodDelete, path: fcFile(lfn) + "/replicas", token: f.alice}), 422, "url")

	// Bad registrations.
	wantProblem(t, f.send(http.MethodPut, fcFile(lfn), f.alice, `{"size":42}`), 409, "already registered")
	wantProblem(t, f.send(http.MethodPut, fcFile("/alice/run1"), f.alice, `{"size":42}`), 409, "is a directory")
	wantProblem(t, f.send(http.MethodPut, fcFile("/alice/x"), f.alice, `{"size":1,"checksum":"crc32:00"}`), 422, "body.checksum")
	wantProblem(t, f.send(http.MethodPut, fcFile("/alice/x"), f.alice, `{"size":1,"replicas":["node://n-1/a","nonsense"]}`), 422, "body.replicas[1]")
	wantProblem(t, f.send(http.MethodPut, fcFile("/alice/x"), f.alice, `{"size":-1}`), 422, "size")
	wantProblem(t, f.send(http.MethodPut, fcFile("/alice/x"), f.alice, `{"checksum":"adler32:00000001"}`), 422, "size")
	wantProblem(t, f.send(http.MethodPut, fcFile("/alice/x"), f.alice, `{"size":1,"metadata":{"quality":3}}`), 422, "holds strings")
	wantProblem(t, f.send(http.MethodPut, fcFile("/alice/x"), f.alice, `{"size":1,"metadata":{"flag":true}}`), 422, "numbers or strings")
	wantProblem(t, f.send(http.MethodPut, fcFile("/alice/x"), f.alice, `{"size":1,"metadata":{"limit":3}}`), 422, "reserved")
	wantProblem(t, f.send(http.MethodPut, fcFile("/"), f.admin, `{"size":1}`), 422, "root")
	wantProblem(t, f.send(http.MethodPut, fcFile(lfn)+"/metadata", f.alice, `{"metadata":{"run":"one"}}`), 422, "holds numbers")

	// Writes: the owner of the tree or an administrator; reads: everyone.
	wantProblem(t, f.send(http.MethodPut, fcFile("/alice/bobs.dat"), f.bob, `{"size":1}`), 403, "only under /bob")
	wantProblem(t, f.send(http.MethodPost, fcFile(lfn)+"/replicas", f.bob, `{"url":"node://n-1/x"}`), 403, "only under /bob")
	wantProblem(t, f.send(http.MethodPut, fcFile(lfn)+"/metadata", f.bob, `{"metadata":{"x":1}}`), 403, "only under /bob")
	wantProblem(t, f.do(req{method: http.MethodDelete, path: fcFile(lfn), token: f.bob}), 403, "only under /bob")
	wantProblem(t, f.do(req{method: http.MethodDelete, path: fcFile(lfn) + "/replicas?url=x", token: f.bob}), 403, "only under /bob")
	wantProblem(t, f.send(http.MethodPut, fcFile("/alicex/y"), f.alice, `{"size":1}`), 403, "only under /alice")
	wantStatus(t, f.send(http.MethodPut, fcFile("/bob/b.dat"), f.bob, `{"size":1}`), 201)
	wantStatus(t, f.send(http.MethodPut, fcFile("/alice/by-admin.dat"), f.admin, `{"size":1}`), 201)
	wantProblem(t, f.do(req{path: fcFile(lfn) + "/attributes"}), 401, "authentication required")

	// Unknown paths.
	wantProblem(t, f.do(req{path: fcFile("/alice/none") + "/attributes", token: f.alice}), 404, "no file /alice/none")
	wantProblem(t, f.do(req{path: fcFile("/alice/none") + "/metadata", token: f.alice}), 404, "no file")
	wantProblem(t, f.do(req{path: fcFile("/alice/run1") + "/attributes", token: f.alice}), 404, "is a directory")
	wantProblem(t, f.send(http.MethodPut, fcFile("/alice/none")+"/metadata", f.alice, `{"metadata":{"x":1}}`), 404, "no file")

	wantStatus(t, f.do(req{method: http.MethodDelete, path: fcFile(lfn), token: f.alice}), 204)
	wantProblem(t, f.do(req{method: http.MethodDelete, path: fcFile(lfn), token: f.alice}), 404, "no file")
	wantProblem(t, f.do(req{path: fcFile(lfn) + "/attributes", token: f.alice}), 404, "no file")
}

func TestFileCatalogueDirectories(t *testing.T) {
	f := newFixture(t)
	r := f.send(http.MethodPut, fcDir("/alice/exp"), f.alice, `{"metadata":{"experiment":"atlas","year":2031}}`)
	wantStatus(t, r, 201)
	if r.header.Get("Location") != fcDir("/alice/exp")+"/metadata" || r.json(t)["owner"] != "alice" {
		t.Fatalf("created %v %s", r.header, r.body)
	}
	// PUT again: 200, and its metadata applied. POST again: 409.
	r = f.send(http.MethodPut, fcDir("/alice/exp"), f.alice, `{"metadata":{"year":2032}}`)
	wantStatus(t, r, 200)
	if r.json(t)["metadata"].(map[string]any)["year"] != 2032.0 {
		t.Fatalf("PUT on existing %s", r.body)
	}
	wantProblem(t, f.send(http.MethodPost, fcDir("/alice/exp"), f.alice, `{}`), 409, "already exists")
	wantStatus(t, f.do(req{method: http.MethodPost, path: fcDir("/alice/exp/run2"), token: f.alice}), 201) // no body at all
	wantStatus(t, f.send(http.MethodPost, fcDir("/alice/exp/run1"), f.alice, `{"metadata":{"run":1}}`), 201)
	wantProblem(t, f.send(http.MethodPost, fcDir("/bob/x"), f.alice, `{}`), 403, "only under /alice")
	wantProblem(t, f.send(http.MethodPut, fcDir("/alice/exp")+"/metadata", f.bob, `{"metadata":{"x":1}}`), 403, "only under /bob")
	wantProblem(t, f.send(http.MethodPut, fcDir("/alice/exp2"), f.alice, `{"metadata":{"year":"MMXXXI"}}`), 422, "holds numbers")
	for i := range 3 {
		wantStatus(t, f.send(http.MethodPut, fcFile(fmt.Sprintf("/alice/exp/f%d", i)), f.alice, fmt.Sprintf(`{"size":%d,"checksum":"adler32:0000000%d","replicas":["node://n-1/f%d"],"metadata":{"i":%d}}`, i+10, i, i, i)), 201)
	}

	// Listing: subdirectories, then files; verbose adds the details.
	r = f.do(req{path: fcDir("/alice/exp"), token: f.bob})
	wantStatus(t, r, 200)
	if ct := r.header.Get("Content-Type"); ct != CollectionType {
		t.Fatalf("content type %q", ct)
	}
	m := r.json(t)
	items := m["items"].([]any)
	var names []string
	for _, it := range items {
		e := it.(map[string]any)
		names = append(names, e["type"].(string)+":"+e["name"].(string))
		if e["size"] != nil || e["replicas"] != nil {
			t.Fatalf("terse entry with details: %v", e)
		}
	}
	if m["total"] != 5.0 || strings.Join(names, " ") != "directory:run1 directory:run2 file:f0 file:f1 file:f2" {
		t.Fatalf("listing %v total %v", names, m["total"])
	}
	if l := links(t, m); l["parent"] != fcDir("/alice/exp")+"/metadata" || l["search"] != fcDir("/alice/exp")+"/search" {
		t.Fatalf("listing links %v", l)
	}
	r = f.do(req{path: fcDir("/alice/exp") + "?verbose=true&offset=1&limit=2", token: f.bob})
	wantStatus(t, r, 200)
	m = r.json(t)
	items = m["items"].([]any)
	run2, f0 := items[0].(map[string]any), items[1].(map[string]any)
	if run2["name"] != "run2" || f0["size"] != 10.0 || f0["checksum"] != "adler32:00000000" || len(f0["replicas"].([]any)) != 1 || f0["metadata"].(map[string]any)["i"] != 0.0 {
		t.Fatalf("verbose page %v", items)
	}
	if l := links(t, m); l["next"] != fcDir("/alice/exp")+"?offset=3&limit=2&verbose=true" || l["prev"] == "" {
		t.Fatalf("verbose page links %v", l)
	}

	// Metadata of a directory: own and inherited.
	r = f.do(req{path: fcDir("/alice/exp/run1") + "/metadata", token: f.bob})
	wantStatus(t, r, 200)
	m = r.json(t)
	if !reflect.DeepEqual(m["metadata"], map[string]any{"experiment": "atlas", "year": 2032.0, "run": 1.0}) ||
		!reflect.DeepEqual(m["inherited_from"], map[string]any{"experiment": "/alice/exp", "year": "/alice/exp"}) {
		t.Fatalf("run1 metadata %v", m)
	}
	r = f.send(http.MethodPut, fcDir("/alice/exp/run1")+"/metadata", f.alice, `{"metadata":{"year":2040,"run":null}}`)
	wantStatus(t, r, 200)
	if got := r.json(t)["metadata"]; !reflect.DeepEqual(got, map[string]any{"experiment": "atlas", "year": 2040.0}) {
		t.Fatalf("after change %v", got)
	}
	wantProblem(t, f.send(http.MethodPut, fcDir("/alice/exp/run1")+"/metadata", f.alice, `{}`), 422, "metadata")

	// Unknown directories, and files where directories are expected.
	wantProblem(t, f.do(req{path: fcDir("/alice/nope"), token: f.alice}), 404, "no directory /alice/nope")
	wantProblem(t, f.do(req{path: fcDir("/alice/nope") + "/metadata", token: f.alice}), 404, "no directory")
	wantProblem(t, f.do(req{path: fcDir("/alice/nope") + "/search", token: f.alice}), 404, "no directory")
	wantProblem(t, f.send(http.MethodPut, fcDir("/alice/nope")+"/metadata", f.alice, `{"metadata":{"x":1}}`), 404, "no directory")
	wantProblem(t, f.do(req{path: fcDir("/alice/exp/f0"), token: f.alice}), 404, "is a file")
	wantProblem(t, f.send(http.MethodPut, fcDir("/alice/exp/f0/sub"), f.alice, `{}`), 409, "is a file")

	// Removing directories: only empty ones, only your own, never the root.
	wantProblem(t, f.do(req{method: http.MethodDelete, path: fcDir("/alice/exp"), token: f.alice}), 409, "not empty (2 subdirectories, 3 files)")
	wantProblem(t, f.do(req{method: http.MethodDelete, path: fcDir("/alice/exp/run2"), token: f.bob}), 403, "only under /bob")
	wantProblem(t, f.do(req{method: http.MethodDelete, path: fcDir("/alice/gone"), token: f.alice}), 404, "no directory")
	wantProblem(t, f.do(req{method: http.MethodDelete, path: fcDir("/"), token: f.admin}), 409, "root")
	wantProblem(t, f.do(req{method: http.MethodDelete, path: fcDir("/alice/exp/f0"), token: f.alice}), 404, "is a file")
	wantStatus(t, f.do(req{method: http.MethodDelete, path: fcDir("/alice/exp/run2"), token: f.alice}), 204)
	wantProblem(t, f.do(req{path: fcDir("/alice/exp/run2"), token: f.alice}), 404, "no directory")
	// A directory with metadata goes with its metadata; recreated, it has none.
	wantStatus(t, f.do(req{method: http.MethodDelete, path: fcDir("/alice/exp/run1"), token: f.alice}), 204)
	wantStatus(t, f.do(req{method: http.MethodPost, path: fcDir("/alice/exp/run1"), token: f.alice}), 201)
	r = f.do(req{path: fcDir("/alice/exp/run1") + "/metadata", token: f.alice})
	wantStatus(t, r, 200)
	if got := r.json(t)["metadata"]; !reflect.DeepEqual(got, map[string]any{"experiment": "atlas", "year": 2032.0}) {
		t.Fatalf("recreated run1 has metadata %v, want only the inherited keys", got)
	}
}

// TestFileCatalogueSearch searches a few hundred entries through the API
// with every operator, and refuses bad conditions.
func TestFileCatalogueSearch(t *testing.T) {
	f := newFixture(t)
	sites := []string{"rennes", "lyon", "nancy"}
	const runs = 100
	for i := range runs {
		dir := fmt.Sprintf("/alice/runs/run%03d", i)
		wantStatus(t, f.send(http.MethodPut, fcDir(dir), f.alice, fmt.Sprintf(`{"metadata":{"run":%d,"site":%q}}`, i, sites[i%3])), 201)
		for j := range 2 {
			wantStatus(t, f.send(http.MethodPut, fcFile(fmt.Sprintf("%s/f%d", dir, j)), f.alice, fmt.Sprintf(`{"size":%d}`, i+j)), 201)
		}
	}
	search := func(q url.Values) resp {
		t.Helper()
		return f.do(req{path: fcDir("/alice/runs") + "/search?" + q.Encode(), token: f.bob})
	}
	count := func(keep func(run int, site string) bool) int {
		n := 0
		for i := range runs {
			if keep(i, sites[i%3]) {
				n++
			}
		}
		return n
	}
	for _, c := range []struct {
		q    url.Values
		keep func(int, string) bool
	}{
		{url.Values{"run": {"<|10"}}, func(r int, _ string) bool { return r < 10 }},
		{url.Values{"run": {">|90"}}, func(r int, _ string) bool { return r > 90 }},
		{url.Values{"run": {"=|42"}}, func(r int, _ string) bool { return r == 42 }},
		{url.Values{"run": {"<=|10"}}, func(r int, _ string) bool { return r <= 10 }},
		{url.Values{"run": {">=|95"}}, func(r int, _ string) bool { return r >= 95 }},
		{url.Values{"site": {"in|lyon,nancy"}}, func(_ int, s string) bool { return s != "rennes" }},
		{url.Values{"site": {"in|rennes"}, "run": {">=|20", "<|30"}}, func(r int, s string) bool { return s == "rennes" && r >= 20 && r < 30 }},
	} {
		r := search(c.q)
		wantStatus(t, r, 200)
		m := r.json(t)
		if want := count(c.keep); m["total"] != float64(want) {
			t.Fatalf("search %s: total %v, want %d", c.q.Encode(), m["total"], want)
		}
		for _, it := range m["items"].([]any) {
			d := it.(map[string]any)
			var i int
			fmt.Sscanf(d["path"].(string), "/alice/runs/run%d", &i)
			if d["files"] != 2.0 || d["size"] != float64(2*i+1) {
				t.Fatalf("search %s: %v", c.q.Encode(), d)
			}
		}
	}
	// Paging keeps the conditions in the links.
	r := search(url.Values{"run": {"<|10"}, "limit": {"4"}})
	if next := links(t, r.json(t))["next"]; !strings.Contains(next, "run=%3C%7C10") || !strings.Contains(next, "offset=4") {
		t.Fatalf("next link %q", next)
	}
	// Without conditions: the directory itself and all below it, with totals.
	all := search(url.Values{}).json(t)
	first := all["items"].([]any)[0].(map[string]any)
	if all["total"] != float64(runs+1) || first["path"] != "/alice/runs" || first["files"] != float64(2*runs) {
		t.Fatalf("unconditional search: total %v, first %v", all["total"], first)
	}

	// Compatible values: of a directory, and of the whole catalogue's keys.
	md := f.do(req{path: fcDir("/alice/runs") + "/metadata?" + url.Values{"run": {"<|3"}}.Encode(), token: f.bob}).json(t)
	if !reflect.DeepEqual(md["compatible"], map[string]any{"run": []any{0.0, 1.0, 2.0}, "site": []any{"lyon", "nancy", "rennes"}}) {
		t.Fatalf("compatible %v", md["compatible"])
	}
	keys := f.do(req{path: fcBase + "/metadata?" + url.Values{"site": {"in|lyon"}, "run": {">=|90"}}.Encode(), token: f.bob})
	wantStatus(t, keys, 200)
	km := keys.json(t)
	got := map[string]any{}
	for _, it := range km["items"].([]any) {
		k := it.(map[string]any)
		got[k["key"].(string)] = []any{k["type"], k["values"]}
	}
	want := map[string]any{"run": []any{"number", []any{91.0, 94.0, 97.0}}, "site": []any{"string", []any{"lyon"}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("metadata keys %v, want %v", got, want)
	}
	plain := f.do(req{path: fcBase + "/metadata", token: f.bob}).json(t)
	if plain["total"] != 2.0 || len(plain["items"].([]any)[0].(map[string]any)["values"].([]any)) != runs {
		t.Fatalf("metadata without conditions %v", plain)
	}

	// Bad conditions: each a 422 naming the parameter.
	for _, c := range []struct {
		path string
		q    url.Values
		want string
	}{
		{fcDir("/alice/runs") + "/search", url.Values{"run": {"!=|5"}}, "query.run: condition run=!=|5: unknown operator"},
		{fcDir("/alice/runs") + "/search", url.Values{"run": {"5"}}, "query.run: condition run=5: write op|value"},
		{fcDir("/alice/runs") + "/search", url.Values{"run": {"<|five"}}, "not one"},
		{fcDir("/alice/runs") + "/search", url.Values{"run": {"in|1,2"}}, "run holds numbers"},
		{fcDir("/alice/runs") + "/search", url.Values{"site": {">|3"}}, "site holds strings"},
		{fcDir("/alice/runs") + "/search", url.Values{"energy": {">|3"}}, "condition energy=>|3: no metadata key"},
		{fcDir("/alice/runs") + "/metadata", url.Values{"site": {"=|lyon"}}, "strings take in: site=in|lyon"},
		{fcBase + "/metadata", url.Values{"run": {"~|1"}}, "unknown operator"},
		{fcBase + "/metadata", url.Values{"site": {"in|"}}, "comma-separated"},
	} {
		wantProblem(t, f.do(req{path: c.path + "?" + c.q.Encode(), token: f.bob}), 422, c.want)
	}
}
