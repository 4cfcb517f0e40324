package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gridflow/gridflow/engine"
	"github.com/gridflow/gridflow/engine/store"
)

func TestMain(m *testing.M) {
	store.BcryptCost = bcrypt.MinCost
	os.Exit(m.Run())
}

// fixture is a running API over a SQLite store with the small testbed, an
// administrator and two users.
type fixture struct {
	t      *testing.T
	srv    *httptest.Server
	eng    *engine.Engine
	st     *store.Store
	admin  string // bearer tokens
	alice  string
	bob    string
	handle http.Handler
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "gridflow.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	eng := engine.New(st, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	src, err := os.ReadFile("testdata/small.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, diags := eng.LoadTestbed(ctx, src, "small.hcl", "test", "initial"); diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	f := &fixture{t: t, eng: eng, st: st}
	for _, u := range []struct {
		name  string
		admin bool
		tok   *string
	}{{"admin", true, &f.admin}, {"alice", false, &f.alice}, {"bob", false, &f.bob}} {
		if _, err := st.CreateUser(ctx, u.name, u.name+"@example.org", u.name+"-password", u.admin); err != nil {
			t.Fatal(err)
		}
		tok, _, err := st.CreateToken(ctx, u.name, "test", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		*u.tok = tok
	}
	f.handle = New(eng, Options{Logger: eng.Logger})
	f.srv = httptest.NewServer(f.handle)
	t.Cleanup(f.srv.Close)
	return f
}

type req struct {
	method, path, token, accept, contentType, body string
	header                                         map[string]string
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, r.body)
	}
	return m
}

func (f *fixture) do(r req) resp {
	f.t.Helper()
	if r.method == "" {
		r.method = http.MethodGet
	}
	hr, err := http.NewRequest(r.method, f.srv.URL+r.path, strings.NewReader(r.body))
	if err != nil {
		f.t.Fatal(err)
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	if r.accept != "" {
		hr.Header.Set("Accept", r.accept)
	}
	if r.contentType != "" {
		hr.Header.Set("Content-Type", r.contentType)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(hr)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, b}
}

func wantStatus(t *testing.T, r resp, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body: %s", r.status, status, r.body)
	}
}

// wantProblem checks an error is problem+json and its detail mentions want.
func wantProblem(t *testing.T, r resp, status int, want string) {
	t.Helper()
	wantStatus(t, r, status)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("content type %q, want application/problem+json; body %s", ct, r.body)
	}
	if !strings.Contains(strings.ToLower(string(r.body)), strings.ToLower(want)) {
		t.Fatalf("problem %s does not mention %q", r.body, want)
	}
}

func links(t *testing.T, m map[string]any) map[string]string {
	t.Helper()
	out := map[string]string{}
	ls, ok := m["links"].([]any)
	if !ok {
		t.Fatalf("no links in %v", m)
	}
	for _, l := range ls {
		lm := l.(map[string]any)
		out[lm["rel"].(string)] = lm["href"].(string)
		if lm["type"] == "" {
			t.Fatalf("link without type: %v", lm)
		}
	}
	return out
}

func TestRootIsPublicAndLinksEverything(t *testing.T) {
	f := newFixture(t)
	r := f.do(req{path: "/v1"})
	wantStatus(t, r, 200)
	if ct := r.header.Get("Content-Type"); ct != ItemType {
		t.Fatalf("content type %q, want %q", ct, ItemType)
	}
	l := links(t, r.json(t))
	for _, rel := range []string{"self", "sites", "nodes", "versions", "whoami"} {
		if l[rel] == "" {
			t.Errorf("root has no %q link: %v", rel, l)
		}
	}
}

func TestMediaTypesAndNegotiation(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name, path, accept, want string
		status                   int
	}{
		{"item default", "/v1/sites/rennes", "", ItemType, 200},
		{"item wildcard", "/v1/sites/rennes", "*/*", ItemType, 200},
		{"collection default", "/v1/sites", "", CollectionType, 200},
		{"collection vendor", "/v1/sites", CollectionType, CollectionType, 200},
		{"plain json by accept", "/v1/sites/rennes", "application/json", JSONType, 200},
		{"plain json by suffix", "/v1/sites/rennes.json", "text/html", JSONType, 200},
		{"stable alias", "/stable/sites/rennes", "", ItemType, 200},
		{"unacceptable", "/v1/sites/rennes", "text/html", "application/problem+json", 406},
		{"unacceptable q=0", "/v1/sites/rennes", "application/json;q=0", "application/problem+json", 406},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.do(req{path: c.path, token: f.alice, accept: c.accept})
			wantStatus(t, r, c.status)
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, c.want) {
				t.Fatalf("content type %q, want %q", ct, c.want)
			}
		})
	}
	// Links follow the prefix the client used.
	r := f.do(req{path: "/stable/sites/rennes", token: f.alice})
	if self := links(t, r.json(t))["self"]; self != "/stable/sites/rennes" {
		t.Fatalf("self link %q under /stable", self)
	}
}

func TestCollectionsPageWithLinks(t *testing.T) {
	f := newFixture(t)
	r := f.do(req{path: "/v1/sites/rennes/clusters/paravance/nodes?offset=50&limit=20", token: f.alice})
	wantStatus(t, r, 200)
	m := r.json(t)
	if m["total"].(float64) != 60 || m["offset"].(float64) != 50 || len(m["items"].([]any)) != 10 {
		t.Fatalf("page = total %v offset %v items %d; want 60, 50, 10", m["total"], m["offset"], len(m["items"].([]any)))
	}
	l := links(t, m)
	if l["prev"] != "/v1/sites/rennes/clusters/paravance/nodes?offset=30&limit=20" || l["next"] != "" {
		t.Fatalf("links %v: want prev at offset 30 and no next", l)
	}
	if l["parent"] != "/v1/sites/rennes/clusters/paravance" {
		t.Fatalf("parent %q", l["parent"])
	}
	first := f.do(req{path: "/v1/sites/rennes/clusters/paravance/nodes?limit=20", token: f.alice}).json(t)
	if links(t, first)["next"] != "/v1/sites/rennes/clusters/paravance/nodes?offset=20&limit=20" {
		t.Fatalf("first page links %v", links(t, first))
	}
	wantProblem(t, f.do(req{path: "/v1/sites?limit=0", token: f.alice}), 422, "limit")
}

func TestETagAndNotModified(t *testing.T) {
	f := newFixture(t)
	r := f.do(req{path: "/v1/sites/rennes/clusters/paravance/nodes/paravance-3", token: f.alice})
	wantStatus(t, r, 200)
	etag := r.header.Get("ETag")
	if etag == "" || r.header.Get("Cache-Control") == "" {
		t.Fatalf("missing ETag or Cache-Control: %v", r.header)
	}
	again := f.do(req{path: "/v1/sites/rennes/clusters/paravance/nodes/paravance-3", token: f.alice, header: map[string]string{"If-None-Match": etag}})
	wantStatus(t, again, http.StatusNotModified)
	if len(again.body) != 0 {
		t.Fatalf("304 with a body: %s", again.body)
	}
	// A change of the node's live state changes the representation and its ETag.
	if err := f.st.SetNodeState(context.Background(), "paravance-3", "down", "fan failure"); err != nil {
		t.Fatal(err)
	}
	changed := f.do(req{path: "/v1/sites/rennes/clusters/paravance/nodes/paravance-3", token: f.alice, header: map[string]string{"If-None-Match": etag}})
	wantStatus(t, changed, 200)
	if changed.header.Get("ETag") == etag || changed.json(t)["state"] != "down" {
		t.Fatalf("state change not visible: etag %s, body %s", changed.header.Get("ETag"), changed.body)
	}
	// JSON and vendor representations differ in headers only, but keep their own cache entries.
	if !strings.Contains(changed.header.Get("Vary"), "Accept") {
		t.Fatalf("Vary %q lacks Accept", changed.header.Get("Vary"))
	}
}

func TestErrorStatuses(t *testing.T) {
	f := newFixture(t)
	wantProblem(t, f.do(req{path: "/v1/sites/atlantis", token: f.alice}), 404, "no site")
	wantProblem(t, f.do(req{path: "/v1/sites/rennes/clusters/nope", token: f.alice}), 404, "no cluster")
	wantProblem(t, f.do(req{path: "/v1/sites/rennes/clusters/paravance/nodes/sirius-1", token: f.alice}), 404, "no node")
	wantProblem(t, f.do(req{path: "/v1/nothing-here", token: f.alice}), 404, "no resource")
	r := f.do(req{method: "DELETE", path: "/v1/sites", token: f.alice})
	wantProblem(t, r, 405, "DELETE is not supported")
	if !strings.Contains(r.header.Get("Allow"), "GET") {
		t.Fatalf("405 without Allow: %v", r.header)
	}
	wantProblem(t, f.do(req{method: "POST", path: "/v1/users", token: f.admin, contentType: "application/xml", body: "<user/>"}), 415, "content type")
	wantProblem(t, f.do(req{method: "POST", path: "/v1/users", token: f.admin, contentType: "application/json", body: `{"name":"Bad Name!","password":"longenough"}`}), 422, "name")
	wantProblem(t, f.do(req{method: "POST", path: "/v1/users", token: f.admin, contentType: "application/json", body: `{"name":`}), 400, "")
	wantProblem(t, f.do(req{path: "/v1/sites?version=deadbeef", token: f.alice}), 404, "no testbed version")
	wantProblem(t, f.do(req{path: "/v1/sites?timestamp=yesterday", token: f.alice}), 400, "timestamp")
	wantProblem(t, f.do(req{path: "/v1/nodes?min_memory=lots", token: f.alice}), 422, "min_memory")
	big := strings.Repeat("x", 2<<20)
	wantStatus(t, f.do(req{method: "POST", path: "/v1/users", token: f.admin, contentType: "application/json", body: big}), 413)
}

func TestAuthentication(t *testing.T) {
	f := newFixture(t)
	r := f.do(req{path: "/v1/sites"})
	wantProblem(t, r, 401, "authentication required")
	if r.header.Get("WWW-Authenticate") == "" {
		t.Fatal("401 without WWW-Authenticate")
	}
	wantProblem(t, f.do(req{path: "/v1/sites", token: "gft_nonsense"}), 401, "invalid credentials")
	// A response cached for an authenticated caller is never served without credentials.
	wantStatus(t, f.do(req{path: "/v1/sites", token: f.alice}), 200)
	wantProblem(t, f.do(req{path: "/v1/sites"}), 401, "authentication required")
	wantProblem(t, f.do(req{path: "/v1/sites", token: "gft_nonsense"}), 401, "invalid credentials")

	// Basic auth with the right and a wrong password.
	basic := func(user, pass string) resp {
		hr, _ := http.NewRequest("GET", f.srv.URL+"/v1/whoami", nil)
		hr.SetBasicAuth(user, pass)
		res, err := http.DefaultClient.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return resp{res.StatusCode, res.Header, b}
	}
	ok := basic("alice", "alice-password")
	wantStatus(t, ok, 200)
	if m := ok.json(t); m["uid"] != "alice" || m["auth_type"] != "basic" {
		t.Fatalf("whoami = %v", m)
	}
	wantProblem(t, basic("alice", "wrong-password"), 401, "invalid credentials")
	wantProblem(t, basic("mallory", "alice-password"), 401, "invalid credentials")

	// Public endpoints need nothing.
	for _, p := range []string{"/v1", "/healthz", "/readyz", "/openapi.json", "/openapi.yaml", "/docs"} {
		wantStatus(t, f.do(req{path: p}), 200)
	}
}

func TestTokenExpiryAndRevocation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	short, _, err := f.st.CreateToken(ctx, "alice", "short", time.Nanosecond)
	if err != nil {
		t.Fatal(err)
	}
	wantProblem(t, f.do(req{path: "/v1/whoami", token: short}), 401, "expired")

	// Alice makes a token through the API, uses it, revokes it.
	r := f.do(req{method: "POST", path: "/v1/users/alice/tokens", token: f.alice, contentType: "application/json", body: `{"name":"laptop","ttl":"2h"}`})
	wantStatus(t, r, 201)
	m := r.json(t)
	tok, id := m["token"].(string), m["uid"].(string)
	if r.header.Get("Location") != "/v1/tokens/"+id {
		t.Fatalf("Location %q", r.header.Get("Location"))
	}
	who := f.do(req{path: "/v1/whoami", token: tok}).json(t)
	if who["uid"] != "alice" || who["token_expires_at"] == nil || who["auth_type"] != "bearer" {
		t.Fatalf("whoami = %v", who)
	}
	// Bob may not revoke it, nor see that it exists.
	wantProblem(t, f.do(req{method: "DELETE", path: "/v1/tokens/" + id, token: f.bob}), 404, "not found")
	wantStatus(t, f.do(req{method: "DELETE", path: "/v1/tokens/" + id, token: f.alice}), 204)
	wantProblem(t, f.do(req{path: "/v1/whoami", token: tok}), 401, "revoked")
	// The listing shows no secret.
	list := f.do(req{path: "/v1/users/alice/tokens", token: f.alice})
	if strings.Contains(string(list.body), tok) {
		t.Fatal("token list discloses the token")
	}
}

func TestOAuth2ClientCredentials(t *testing.T) {
	f := newFixture(t)
	r := f.do(req{method: "POST", path: "/v1/users/alice/clients", token: f.alice, contentType: "application/json", body: `{"name":"ci"}`})
	wantStatus(t, r, 201)
	m := r.json(t)
	id, secret := m["client_id"].(string), m["client_secret"].(string)

	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}, "expires_in": {"600"}}
	tr := f.do(req{method: "POST", path: "/v1/oauth2/token", contentType: "application/x-www-form-urlencoded", body: form.Encode()})
	wantStatus(t, tr, 200)
	tm := tr.json(t)
	if tm["token_type"] != "Bearer" || tm["expires_in"].(float64) < 590 || tm["expires_in"].(float64) > 600 {
		t.Fatalf("token response %v", tm)
	}
	who := f.do(req{path: "/v1/whoami", token: tm["access_token"].(string)})
	wantStatus(t, who, 200)
	if who.json(t)["uid"] != "alice" {
		t.Fatalf("token is not alice's: %s", who.body)
	}

	form.Set("client_secret", "wrong")
	wantProblem(t, f.do(req{method: "POST", path: "/v1/oauth2/token", contentType: "application/x-www-form-urlencoded", body: form.Encode()}), 401, "invalid_client")
	form.Set("grant_type", "password")
	wantProblem(t, f.do(req{method: "POST", path: "/v1/oauth2/token", contentType: "application/x-www-form-urlencoded", body: form.Encode()}), 400, "unsupported_grant_type")
	wantProblem(t, f.do(req{method: "POST", path: "/v1/oauth2/token", contentType: "application/xml", body: "<x/>"}), 415, "x-www-form-urlencoded")
	// JSON works too, with a user's own password as the secret.
	jr := f.do(req{method: "POST", path: "/v1/oauth2/token", contentType: "application/json", body: `{"grant_type":"client_credentials","client_id":"bob","client_secret":"bob-password"}`})
	wantStatus(t, jr, 200)
}

func TestAuthorization(t *testing.T) {
	f := newFixture(t)
	wantProblem(t, f.do(req{path: "/v1/users", token: f.alice}), 403, "administrators")
	wantProblem(t, f.do(req{path: "/v1/users/bob", token: f.alice}), 403, "another user")
	wantProblem(t, f.do(req{method: "POST", path: "/v1/users/bob/tokens", token: f.alice, contentType: "application/json", body: `{}`}), 403, "another user")
	wantProblem(t, f.do(req{method: "POST", path: "/v1/projects", token: f.alice, contentType: "application/json", body: `{"name":"p1"}`}), 403, "administrators")
	wantProblem(t, f.do(req{method: "PUT", path: "/v1/testbed", token: f.alice, contentType: "text/x-hcl", body: `site "x" {}`}), 403, "administrators")
	wantStatus(t, f.do(req{path: "/v1/users/alice", token: f.alice}), 200)
	wantStatus(t, f.do(req{path: "/v1/users", token: f.admin}), 200)
}

func TestUsersAndProjects(t *testing.T) {
	f := newFixture(t)
	wantStatus(t, f.do(req{method: "POST", path: "/v1/projects", token: f.admin, contentType: "application/json", body: `{"name":"hpc-lab","description":"HPC"}`}), 201)
	r := f.do(req{method: "POST", path: "/v1/users", token: f.admin, contentType: "application/json",
		body: `{"name":"carol","password":"carol-password","projects":["hpc-lab"]}`})
	wantStatus(t, r, 201)
	if r.header.Get("Location") != "/v1/users/carol" || r.json(t)["projects"].([]any)[0] != "hpc-lab" {
		t.Fatalf("created user: %s %s", r.header.Get("Location"), r.body)
	}
	wantProblem(t, f.do(req{method: "POST", path: "/v1/users", token: f.admin, contentType: "application/json",
		body: `{"name":"carol","password":"carol-password"}`}), 409, "already exists")
	wantProblem(t, f.do(req{method: "POST", path: "/v1/users", token: f.admin, contentType: "application/json",
		body: `{"name":"dave","password":"dave-password","projects":["nope"]}`}), 422, "does not exist")
	// The password is stored hashed, and works for Basic auth.
	u, err := f.st.CheckPassword(context.Background(), "carol", "carol-password")
	if err != nil || u.Name != "carol" {
		t.Fatalf("carol cannot log in: %v", err)
	}
	// Alice sees no project she is not in; the admin adds her.
	if got := f.do(req{path: "/v1/projects", token: f.alice}).json(t)["total"]; got != float64(0) {
		t.Fatalf("alice sees %v projects", got)
	}
	wantProblem(t, f.do(req{path: "/v1/projects/hpc-lab", token: f.alice}), 403, "not a member")
	wantStatus(t, f.do(req{method: "POST", path: "/v1/projects/hpc-lab/members", token: f.admin, contentType: "application/json", body: `{"user":"alice"}`}), 200)
	wantStatus(t, f.do(req{path: "/v1/projects/hpc-lab", token: f.alice}), 200)
	who := f.do(req{path: "/v1/whoami", token: f.alice}).json(t)
	if ps := who["projects"].([]any); len(ps) != 1 || ps[0] != "hpc-lab" {
		t.Fatalf("whoami projects %v", ps)
	}
	wantStatus(t, f.do(req{method: "DELETE", path: "/v1/users/carol", token: f.admin}), 204)
	wantProblem(t, f.do(req{path: "/v1/users/carol", token: f.admin}), 404, "not found")
}

func TestNodesFilterAndState(t *testing.T) {
	f := newFixture(t)
	gpu := f.do(req{path: "/v1/nodes?min_gpus=1", token: f.alice}).json(t)
	if gpu["total"] != float64(2) {
		t.Fatalf("GPU nodes: %v", gpu["total"])
	}
	if n := gpu["items"].([]any)[0].(map[string]any); n["gpu_model"] != "NVIDIA A100" || n["memory"] != float64(1<<40) {
		t.Fatalf("GPU node %v", n)
	}
	big := f.do(req{path: "/v1/nodes?min_memory=256GiB&site=lyon", token: f.alice}).json(t)
	if big["total"] != float64(2) {
		t.Fatalf("min_memory filter: %v", big["total"])
	}
	if err := f.st.SetNodeState(context.Background(), "paravance-7", "down", "disk"); err != nil {
		t.Fatal(err)
	}
	down := f.do(req{path: "/v1/nodes?state=down", token: f.alice}).json(t)
	if down["total"] != float64(1) || down["items"].([]any)[0].(map[string]any)["uid"] != "paravance-7" {
		t.Fatalf("state filter: %v", down)
	}
	if next := links(t, f.do(req{path: "/v1/nodes?site=rennes&limit=10", token: f.alice}).json(t))["next"]; !strings.Contains(next, "site=rennes") {
		t.Fatalf("next link drops the filter: %q", next)
	}
	wantProblem(t, f.do(req{path: "/v1/nodes?site=atlantis", token: f.alice}), 404, "atlantis")
}

func TestVersionsAndTimeTravel(t *testing.T) {
	f := newFixture(t)
	before := f.do(req{path: "/v1/sites/lyon/clusters/sirius/nodes/sirius-1", token: f.alice}).json(t)
	v1 := before["version"].(string)
	// The admin publishes a testbed where sirius nodes got more memory.
	src, _ := os.ReadFile("testdata/small.hcl")
	changed := strings.Replace(string(src), `memory  = "1TiB"`, `memory  = "2TiB"`, 1)
	r := f.do(req{method: "PUT", path: "/v1/testbed?message=upgrade", token: f.admin, contentType: "text/x-hcl", body: changed})
	wantStatus(t, r, 200)
	v2 := r.json(t)["uid"].(string)
	if v2 == v1 {
		t.Fatal("a changed testbed kept its version")
	}
	now := f.do(req{path: "/v1/sites/lyon/clusters/sirius/nodes/sirius-1", token: f.alice}).json(t)
	if now["memory"] != float64(2<<40) || now["version"] != v2 {
		t.Fatalf("current node %v", now)
	}
	old := f.do(req{path: "/v1/sites/lyon/clusters/sirius/nodes/sirius-1?version=" + v1, token: f.alice}).json(t)
	if old["memory"] != float64(1<<40) || old["state"] != nil {
		t.Fatalf("node at v1 %v (past versions carry no live state)", old)
	}
	vs := f.do(req{path: "/v1/versions", token: f.alice}).json(t)
	if vs["total"] != float64(2) || vs["items"].([]any)[0].(map[string]any)["message"] != "upgrade" {
		t.Fatalf("versions %v", vs)
	}
	// A page the store cut keeps the whole list's total and links.
	p1 := f.do(req{path: "/v1/versions?limit=1", token: f.alice}).json(t)
	if p1["total"] != float64(2) || len(p1["items"].([]any)) != 1 || links(t, p1)["next"] != "/v1/versions?offset=1&limit=1" {
		t.Fatalf("first page of versions: %v", p1)
	}
	p2 := f.do(req{path: "/v1/versions?offset=1&limit=1", token: f.alice}).json(t)
	if p2["offset"] != float64(1) || len(p2["items"].([]any)) != 1 || links(t, p2)["next"] != "" || links(t, p2)["prev"] == "" {
		t.Fatalf("second page of versions: %v", p2)
	}
	nodeVs := f.do(req{path: "/v1/sites/lyon/clusters/sirius/nodes/sirius-1/versions", token: f.alice}).json(t)
	if nodeVs["total"] != float64(2) {
		t.Fatalf("sirius-1 changed in both versions, got %v", nodeVs["total"])
	}
	paraVs := f.do(req{path: "/v1/sites/rennes/clusters/paravance/nodes/paravance-1/versions", token: f.alice}).json(t)
	if paraVs["total"] != float64(1) {
		t.Fatalf("paravance-1 changed only in v1, got %v", paraVs["total"])
	}
	// Timestamps: before the first version there was nothing.
	wantProblem(t, f.do(req{path: "/v1/sites?timestamp=1000", token: f.alice}), 404, "no version yet")
	ts := f.do(req{path: "/v1/sites/lyon/clusters/sirius/nodes/sirius-1?timestamp=" + url.QueryEscape(time.Now().Add(time.Minute).Format(time.RFC3339)), token: f.alice}).json(t)
	if ts["version"] != v2 {
		t.Fatalf("timestamp now reads %v, want %s", ts["version"], v2)
	}
	// Re-publishing the same testbed is not a new version.
	wantStatus(t, f.do(req{method: "PUT", path: "/v1/testbed", token: f.admin, contentType: "text/x-hcl", body: changed}), 200)
	if got := f.do(req{path: "/v1/versions", token: f.alice}).json(t)["total"]; got != float64(2) {
		t.Fatalf("same testbed made a version: total %v", got)
	}
}

func TestBadTestbedIsRejectedWithPositions(t *testing.T) {
	f := newFixture(t)
	r := f.do(req{method: "PUT", path: "/v1/testbed", token: f.admin, contentType: "text/x-hcl", body: "site \"x\" {\n  cluster \"c\" {\n    bogus = 1\n  }\n}\n"})
	wantProblem(t, r, 422, "testbed.hcl:3:")
	wantProblem(t, f.do(req{method: "PUT", path: "/v1/testbed", token: f.admin, contentType: "application/json", body: "{}"}), 415, "text/x-hcl")
	// Nothing changed.
	if got := f.do(req{path: "/v1/versions", token: f.alice}).json(t)["total"]; got != float64(1) {
		t.Fatalf("a rejected testbed made a version: total %v", got)
	}
}

func TestOpenAPIDocsAndMetrics(t *testing.T) {
	f := newFixture(t)
	doc := f.do(req{path: "/openapi.json"}).json(t)
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi %v", doc["openapi"])
	}
	paths := doc["paths"].(map[string]any)
	for _, p := range []string{"/v1/sites/{site}/clusters/{cluster}/nodes/{node}", "/v1/oauth2/token", "/v1/whoami", "/v1/versions"} {
		if paths[p] == nil {
			t.Errorf("OpenAPI lacks %s", p)
		}
	}
	page := f.do(req{path: "/docs"})
	if !strings.Contains(string(page.body), "/docs/assets/swagger-ui-bundle.js") || strings.Contains(string(page.body), "cdn") {
		t.Fatalf("docs page does not load local assets: %s", page.body)
	}
	js := f.do(req{path: "/docs/assets/swagger-ui-bundle.js"})
	wantStatus(t, js, 200)
	if len(js.body) < 100000 {
		t.Fatalf("swagger-ui bundle is %d bytes", len(js.body))
	}
	f.do(req{path: "/v1/sites", token: f.alice})
	m := f.do(req{path: "/metrics"})
	if !strings.Contains(string(m.body), `gridflow_http_requests_total{method="GET",operation="list-sites",status="200"}`) {
		t.Fatalf("metrics lack the list-sites request:\n%s", m.body)
	}
	rd := f.do(req{path: "/readyz"}).json(t)
	if rd["status"] != "ready" {
		t.Fatalf("readyz %v", rd)
	}
}
