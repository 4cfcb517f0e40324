package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/gridflow/gridflow/engine/store"
	"github.com/gridflow/gridflow/engine/transfer/storage"
)

// The hostile-input suite (issue 9, item 4) walks every operation of the
// OpenAPI document, so an operation added later is covered without touching
// this file. For each operation it tries:
//
//   - anon:   no or bad credentials → 401 problem+json (public ones: not 401);
//   - user:   alice, a plain user, on bob's resources → 403 or 404, never 2xx;
//     administrators' operations → 403; nothing bob owns leaks into alice's
//     answers, even right after bob read the same URL (caches);
//   - body:   malformed bodies → 400/422;
//   - ctype:  a Content-Type the operation does not take → 415;
//   - big:    bodies over the operation's limit → 413, answered without
//     reading them whole and without holding them in memory;
//   - trav:   path traversal in every path parameter, under /v1, /stable
//     and with a .json suffix → 4xx (not a redirect to another resource);
//   - query:  out-of-range, malformed and unknown values of every query
//     parameter of every GET (negative offset, huge limit, unknown enum…) →
//     422, and odd-but-valid values → never 5xx;
//
// and, throughout, no 5xx and no panic. A summary table (operation → statuses
// seen per check) is logged; run with -v to see it.

// adminOnlyOps are the operations only administrators may call. The test
// checks both ways: each answers 403 to a plain user, and any operation that
// answers a plain user's GET with "only administrators" is listed here.
var adminOnlyOps = []string{
	"add-project-member", "ban-storage", "ban-user", "create-project", "create-user", "delete-user",
	"list-bans", "list-users", "put-testbed", "set-optimizer", "unban-storage", "unban-user",
}

// sharedOps read something any signed-in user may read although their path
// names a node another user holds: the facts the hardware reports (like the
// reference inventory), not what the holder runs on it.
var sharedOps = []string{"get-node-info", "get-node-mem"}

// knownGaps are refusals the test expects but the operation does not give
// yet, each with what is wrong. They are logged instead of failing the test,
// and the test fails once a gap is closed, so that its entry is removed.
var knownGaps = map[string]string{}

// traversals are path parameter values that try to leave their segment or
// their directory; each is inserted already percent-encoded.
var traversals = []string{
	"..%2f..%2fetc%2fpasswd",
	"%2e%2e%2f%2e%2e%2fetc%2fpasswd",
	"%2e%2e",
	"..%2f..%2f..%2fusers%2fbob",
	"..%5c..%5cwindows%5cwin.ini",
	"%252e%252e%252fetc%252fpasswd",
	"x%00y",
}

// apiOp is one operation of the document with its method and path template.
type apiOp struct {
	*huma.Operation
	method, path string
}

func (o apiOp) String() string { return o.OperationID + " (" + o.method + " " + o.path + ")" }

func (o apiOp) secured() bool { return len(o.Security) > 0 }

func (o apiOp) safe() bool { return o.method == http.MethodGet || o.method == http.MethodHead }

// pathParams lists the names of the path parameters, in path order.
func (o apiOp) pathParams() []string {
	var out []string
	for _, seg := range strings.Split(o.path, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			out = append(out, seg[1:len(seg)-1])
		}
	}
	return out
}

// contentTypes are the request body types the operation declares.
func (o apiOp) contentTypes() []string {
	if o.RequestBody == nil {
		return nil
	}
	var out []string
	for ct := range o.RequestBody.Content {
		out = append(out, ct)
	}
	sort.Strings(out)
	return out
}

// streams reports whether the operation answers with Server-Sent Events.
func (o apiOp) streams() bool {
	for _, r := range o.Responses {
		if r != nil && r.Content["text/event-stream"] != nil {
			return true
		}
	}
	return false
}

func (o apiOp) takesHCL() bool { return slices.Contains(o.contentTypes(), "text/x-hcl") }

// accepts reports whether the operation takes bodies of content type ct.
func (o apiOp) accepts(ct string) bool {
	if slices.Contains(o.contentTypes(), ct) {
		return true
	}
	return o.takesHCL() && isHCL(ct)
}

func (o apiOp) bodyType() string {
	cts := o.contentTypes()
	if slices.Contains(cts, JSONType) {
		return JSONType
	}
	if len(cts) > 0 {
		return cts[0]
	}
	return ""
}

func operations(doc *huma.OpenAPI) []apiOp {
	var out []apiOp
	for p, pi := range doc.Paths {
		for _, m := range []struct {
			method string
			op     *huma.Operation
		}{{"GET", pi.Get}, {"HEAD", pi.Head}, {"POST", pi.Post}, {"PUT", pi.Put}, {"PATCH", pi.Patch}, {"DELETE", pi.Delete}, {"OPTIONS", pi.Options}, {"TRACE", pi.Trace}} {
			if m.op != nil {
				out = append(out, apiOp{Operation: m.op, method: m.method, path: p})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].path != out[j].path {
			return out[i].path < out[j].path
		}
		return out[i].method < out[j].method
	})
	return out
}

// result is what the server answered.
type result struct {
	status int
	header http.Header
	body   []byte
	err    error
}

func (r result) String() string {
	if r.err != nil {
		return "no answer: " + r.err.Error()
	}
	b := string(r.body)
	if len(b) > 300 {
		b = b[:300] + "…"
	}
	return fmt.Sprintf("%d %s %s", r.status, r.header.Get("Content-Type"), b)
}

func (r result) problem() bool {
	return strings.HasPrefix(r.header.Get("Content-Type"), "application/problem+json")
}

func bearer(tok string) string { return "Bearer " + tok }

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// hostile drives the checks against one fixture through its own server,
// which records panics instead of letting net/http swallow them.
type hostile struct {
	t      *testing.T
	f      *fixture
	srv    *httptest.Server
	client *http.Client
	doc    *huma.OpenAPI
	ops    []apiOp

	mu     sync.Mutex
	panics []string
	seen   map[string]map[string][]int // operation id → check → statuses
	checks map[string]int              // check → requests

	// bob's resources by the collection segment that precedes their path
	// parameter (users/{name} → bob, reservations/{id} → his reservation…).
	bob     map[string]string
	private []string // identifiers of bob's that alice must never read
	version string   // the current testbed version

	gapsSeen map[string]bool
}

func newHostile(t *testing.T) *hostile {
	f := newFixture(t)
	h := &hostile{t: t, f: f, seen: map[string]map[string][]int{}, checks: map[string]int{}, gapsSeen: map[string]bool{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				h.mu.Lock()
				h.panics = append(h.panics, fmt.Sprintf("%s %s: %v\n%s", r.Method, r.URL.RequestURI(), v, debug.Stack()))
				h.mu.Unlock()
				w.WriteHeader(http.StatusInternalServerError)
			}
		}()
		f.handle.ServeHTTP(w, r)
	}))
	t.Cleanup(h.srv.Close)
	h.client = &http.Client{
		// A redirect is an answer to check, not to follow: a traversal must
		// not be turned into a request for another resource.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	h.doc = f.handle.(*Server).OpenAPI()
	h.ops = operations(h.doc)
	return h
}

func (h *hostile) record(o apiOp, check string, status int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.seen[o.OperationID]
	if m == nil {
		m = map[string][]int{}
		h.seen[o.OperationID] = m
	}
	if !slices.Contains(m[check], status) {
		m[check] = append(m[check], status)
	}
	if status != 0 {
		h.checks[check]++
	}
}

// send makes one request. A body of nil sends none. A Server-Sent Events
// answer is read for a moment and then dropped.
func (h *hostile) send(method, target, auth, contentType string, body []byte) result {
	h.t.Helper()
	return h.sendWithin(method, target, auth, contentType, body, 30*time.Second)
}

// sendOp makes a request to operation o. A stream that has sent nothing yet
// has sent no headers either (huma's SSE writes them with the first event):
// when it stays silent for two seconds, the request was accepted and is
// counted as 200.
func (h *hostile) sendOp(o apiOp, target, auth, contentType string, body []byte) result {
	h.t.Helper()
	if !o.streams() {
		return h.send(o.method, target, auth, contentType, body)
	}
	r := h.sendWithin(o.method, target, auth, contentType, body, 2*time.Second)
	if r.err != nil && errors.Is(r.err, context.DeadlineExceeded) {
		return result{status: http.StatusOK, header: http.Header{"Content-Type": {"text/event-stream"}}, body: []byte("(an open stream, no event yet)")}
	}
	return r
}

func (h *hostile) sendWithin(method, target, auth, contentType string, body []byte, wait time.Duration) result {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var rd io.Reader = http.NoBody
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hr, err := http.NewRequestWithContext(ctx, method, h.srv.URL+target, rd)
	if err != nil {
		return result{err: err}
	}
	if auth != "" {
		hr.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		hr.Header.Set("Content-Type", contentType)
	}
	res, err := h.client.Do(hr)
	if err != nil {
		return result{err: err}
	}
	defer res.Body.Close()
	if strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		stop := time.AfterFunc(300*time.Millisecond, cancel)
		defer stop.Stop()
	}
	b, _ := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	return result{status: res.StatusCode, header: res.Header, body: b}
}

// expect reports a failed expectation of operation o, unless it is one of
// knownGaps, which is only logged.
func (h *hostile) expect(t *testing.T, o apiOp, ok bool, format string, args ...any) {
	t.Helper()
	if ok {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if gap, known := knownGaps[o.OperationID]; known {
		h.mu.Lock()
		first := !h.gapsSeen[o.OperationID]
		h.gapsSeen[o.OperationID] = true
		h.mu.Unlock()
		if first {
			t.Logf("KNOWN GAP %s: %s; e.g. %s", o.OperationID, gap, msg)
		}
		return
	}
	t.Error(msg)
}

// rejected reports whether r refuses a malformed body: 400 or 422, or a
// validation answer (200 {"valid": false, diagnostics}).
func rejected(r result) bool {
	if r.status == http.StatusBadRequest || r.status == http.StatusUnprocessableEntity {
		return true
	}
	var v struct {
		Valid *bool `json:"valid"`
	}
	return r.status == http.StatusOK && json.Unmarshal(r.body, &v) == nil && v.Valid != nil && !*v.Valid
}

// never5xx is checked on every answer: no server error, no panic, an
// answer. It reports whether the answer is worth checking further.
func (h *hostile) never5xx(t *testing.T, o apiOp, check, what string, r result) bool {
	t.Helper()
	if r.err != nil {
		t.Errorf("%s [%s] %s: %v", o, check, what, r.err)
		return false
	}
	h.record(o, check, r.status)
	if r.status >= 500 {
		t.Errorf("%s [%s] %s: server error %s", o, check, what, r)
		return false
	}
	return true
}

// seed gives bob a resource of every kind, the way each would exist in a
// running system, and fills h.bob with where they are.
func (h *hostile) seed() {
	t, f := h.t, h.f
	ctx := context.Background()
	st := f.st
	if _, err := st.CreateProject(ctx, "bobs-lab", "bob's project"); err != nil {
		t.Fatal(err)
	}
	if err := st.AddMember(ctx, "bobs-lab", "bob"); err != nil {
		t.Fatal(err)
	}
	_, tok, err := st.CreateToken(ctx, "bob", "second", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	f.runningReservation("r2bob", "bob", "paravance-2")
	if _, err := st.InsertDeployment(ctx, store.Deployment{ID: "dep-bob", Site: "rennes", Owner: "bob", ReservationID: "r2bob",
		Environment: "debian12-min@2024.1", State: store.DeployProcessing}, []string{"paravance-2"}, false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.InsertTransferJob(ctx, store.TransferJob{ID: "xfer-bob", Owner: "bob", Priority: 3, SourceSE: "http://example.org", DestSE: "node://paravance-2"},
		[]store.TransferFile{{Sources: []string{"http://example.org/a"}, Destination: "node://paravance-2/a", SourceSE: "http://example.org", DestSE: "node://paravance-2"}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.CreateCampaign(ctx, store.Campaign{ID: "camp-bob", Owner: "bob", Name: "bobs-campaign", Filename: "c.hcl", Source: "# nothing"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateEnvironment(ctx, store.Environment{Name: "bob-private", Version: "1", URL: "http://example.org/e.tar.gz",
		Checksum: "sha256:" + strings.Repeat("0", 64), Owner: "bob", Visibility: "private"}); err != nil {
		t.Fatal(err)
	}
	// Runtime resources through the API, as bob would make them.
	bob := bearer(f.bob)
	mk := func(target string, body string) string {
		r := h.send(http.MethodPost, target, bob, JSONType, []byte(body))
		if r.status/100 != 2 {
			t.Fatalf("seed POST %s: %s", target, r)
		}
		return path.Base(r.header.Get("Location"))
	}
	mk("/v1/nodes/paravance-2/containers", `{"id":"bobweb","image":"busybox"}`)
	mk("/v1/nodes/paravance-2/containers/bobweb/jobs", `{"id":"bobjob","name":"true"}`)
	proc := mk("/v1/nodes/paravance-2/processes", `{"name":"true"}`)
	// A grid job under the id of his container job: h.bob keys by the path
	// segment, and both are under …/jobs/{id}.
	seedGridJob(t, f, "bobjob", "bob")

	h.bob = map[string]string{
		"users": "bob", "projects": "bobs-lab", "tokens": tok.ID, "reservations": "r2bob", "deployments": "dep-bob",
		"transfers": "xfer-bob", "campaigns": "camp-bob", "environments": "bob-private", "nodes": "paravance-2",
		"containers": "bobweb", "jobs": "bobjob", "processes": proc,
	}
	h.private = []string{tok.ID, "dep-bob", "xfer-bob", "camp-bob", "bobs-campaign", "bob-private", "bobweb", "bobjob"}
	snap, err := f.eng.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h.version = snap.Version.UID
}

// Kinds of path parameter values.
const (
	refValue     = iota // the shared reference inventory (sites, clusters, versions)
	unknownValue        // a resource of a kind seed does not give bob: its example, or "x"
	bobValue            // one of bob's resources
)

// pathValue picks a plausible value for a path parameter, already escaped,
// and says what it names.
func (h *hostile) pathValue(o apiOp, name string) (string, int) {
	segs := strings.Split(o.path, "/")
	prev := ""
	for i, s := range segs {
		if s == "{"+name+"}" && i > 0 {
			prev = segs[i-1]
		}
	}
	switch {
	case name == "site":
		return "rennes", refValue
	case name == "cluster":
		return "paravance", refValue
	case name == "node" && strings.HasPrefix(o.path, "/v1/sites/"):
		return "paravance-1", refValue
	case prev == "versions":
		return url.PathEscape(h.version), refValue
	}
	if v := h.bob[prev]; v != "" {
		return url.PathEscape(v), bobValue
	}
	for _, p := range o.Parameters {
		if p.In == "path" && p.Name == name {
			if v := paramExample(p); v != "" {
				return url.PathEscape(v), unknownValue
			}
		}
	}
	return "x", unknownValue
}

func paramExample(p *huma.Param) string {
	if p.Example != nil {
		return fmt.Sprint(p.Example)
	}
	if s := p.Schema; s != nil {
		switch {
		case len(s.Examples) > 0:
			return fmt.Sprint(s.Examples[0])
		case s.Default != nil:
			return fmt.Sprint(s.Default)
		case len(s.Enum) > 0:
			return fmt.Sprint(s.Enum[0])
		}
	}
	return ""
}

// target builds the request URI: path parameters from pathValue unless
// overridden (raw, already escaped), the required query parameters filled
// in, then extra query parameters. It says what the path names: bobValue if
// any parameter is bob's, else unknownValue if any is of an unseeded kind.
func (h *hostile) target(o apiOp, override map[string]string, extra url.Values) (string, int) {
	p, kind := o.path, refValue
	for _, name := range o.pathParams() {
		v, k := h.pathValue(o, name)
		if ov, ok := override[name]; ok {
			v = ov
		}
		kind = max(kind, k)
		p = strings.Replace(p, "{"+name+"}", v, 1)
	}
	q := url.Values{}
	for _, prm := range o.Parameters {
		if prm.In == "query" && prm.Required {
			v := paramExample(prm)
			if v == "" {
				v = "x"
			}
			q.Set(prm.Name, v)
		}
	}
	for k, vs := range extra {
		q[k] = vs
	}
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	return p, kind
}

// body makes a valid-looking request body for the operation from its schema
// (examples, defaults, enums, bounds). With hints, properties that name a
// project or a reservation name bob's; it reports whether one did.
func (h *hostile) body(o apiOp, hints bool) ([]byte, bool) {
	if o.RequestBody == nil {
		return nil, false
	}
	ct := o.bodyType()
	switch {
	case o.takesHCL():
		return []byte("# an empty campaign\n"), false
	case ct == "application/x-www-form-urlencoded":
		return []byte("grant_type=client_credentials&client_id=bob&client_secret=bob-password"), false
	}
	mt := o.RequestBody.Content[ct]
	if mt == nil || mt.Schema == nil {
		return []byte("{}"), false
	}
	g := &sampler{reg: h.doc.Components.Schemas}
	if hints {
		g.hints = map[string]any{"project": h.bob["projects"], "reservation": h.bob["reservations"]}
	}
	b, err := json.Marshal(g.sample(mt.Schema, "", 0))
	if err != nil {
		h.t.Errorf("%s: sample body: %v", o, err) // Errorf: called from subtests too
		return []byte("{}"), false
	}
	return b, g.hinted
}

type sampler struct {
	reg    huma.Registry
	hints  map[string]any
	hinted bool
}

func (g *sampler) sample(s *huma.Schema, name string, depth int) any {
	if s == nil || depth > 8 {
		return nil
	}
	if s.Ref != "" {
		s = g.reg.SchemaFromRef(s.Ref)
		if s == nil {
			return nil
		}
	}
	if v, ok := g.hints[name]; ok {
		g.hinted = true
		return v
	}
	switch {
	case len(s.Examples) > 0:
		return s.Examples[0]
	case s.Default != nil:
		return s.Default
	case len(s.Enum) > 0:
		return s.Enum[0]
	case len(s.OneOf) > 0:
		return g.sample(s.OneOf[0], name, depth+1)
	case len(s.AnyOf) > 0:
		return g.sample(s.AnyOf[0], name, depth+1)
	}
	switch s.Type {
	case "object":
		m := map[string]any{}
		for _, r := range s.Required {
			m[r] = g.sample(s.Properties[r], r, depth+1)
		}
		for k, p := range s.Properties {
			if _, ok := m[k]; ok {
				continue
			}
			// Optional properties: those a hint names, and those with an
			// example (a handler may need more than the schema requires).
			if _, ok := g.hints[k]; ok || p != nil && len(p.Examples) > 0 {
				m[k] = g.sample(p, k, depth+1)
			}
		}
		return m
	case "array":
		n := 0
		if s.MinItems != nil {
			n = *s.MinItems
		}
		out := make([]any, n)
		for i := range out {
			out[i] = g.sample(s.Items, "", depth+1)
		}
		return out
	case "integer", "number":
		switch {
		case s.Minimum != nil:
			return math.Ceil(*s.Minimum)
		case s.ExclusiveMinimum != nil:
			return math.Floor(*s.ExclusiveMinimum) + 1
		case s.Maximum != nil && *s.Maximum < 1:
			return math.Floor(*s.Maximum)
		}
		return 1
	case "boolean":
		return false
	case "string":
		switch s.Format {
		case "date-time":
			return time.Now().UTC().Format(time.RFC3339)
		case "email":
			return "someone@example.org"
		case "uri", "url":
			return "http://example.org/x"
		}
		n := 1
		if s.MinLength != nil && *s.MinLength > n {
			n = *s.MinLength
		}
		for _, c := range []string{"x", "a", "1", "x-1", "A"} {
			v := strings.Repeat(c, n)
			if s.Pattern == "" {
				return v
			}
			if ok, _ := regexp.MatchString(s.Pattern, v); ok {
				return v
			}
		}
		return strings.Repeat("x", n)
	}
	return nil
}

// filler makes request bytes on the fly: a huge body is never in memory.
type filler struct{}

func (filler) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

// sendHuge streams n generated bytes as a request body over a raw
// connection, reading the answer while still writing, and returns how many
// bytes were written when the answer came: a server that answers without
// reading the body whole stops well short of n.
func (h *hostile) sendHuge(method, target, auth, contentType string, n int64, chunked bool) (result, int64) {
	h.t.Helper()
	u, err := url.Parse(h.srv.URL)
	if err != nil {
		return result{err: err}, 0
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		return result{err: err}, 0
	}
	defer conn.Close()
	var written atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		var hdr strings.Builder
		fmt.Fprintf(&hdr, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nConnection: close\r\n", method, target, u.Host, contentType)
		if auth != "" {
			fmt.Fprintf(&hdr, "Authorization: %s\r\n", auth)
		}
		if chunked {
			hdr.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		} else {
			fmt.Fprintf(&hdr, "Content-Length: %d\r\n\r\n", n)
		}
		if _, err := io.WriteString(conn, hdr.String()); err != nil {
			return
		}
		var w io.Writer = conn
		var cw io.WriteCloser
		if chunked {
			cw = httputil.NewChunkedWriter(conn)
			w = cw
		}
		buf := make([]byte, 64<<10)
		src := io.LimitReader(filler{}, n)
		for {
			k, rerr := src.Read(buf)
			if k > 0 {
				if _, werr := w.Write(buf[:k]); werr != nil {
					return
				}
				written.Add(int64(k))
			}
			if rerr != nil {
				break
			}
		}
		if cw != nil {
			_ = cw.Close()
			_, _ = io.WriteString(conn, "\r\n")
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	req, _ := http.NewRequest(method, h.srv.URL+target, nil)
	res, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		conn.Close()
		<-done
		return result{err: err}, written.Load()
	}
	got := written.Load()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	res.Body.Close()
	conn.Close()
	<-done
	return result{status: res.StatusCode, header: res.Header, body: b}, got
}

func TestHostileInputFromOpenAPI(t *testing.T) {
	h := newHostile(t)
	h.seed()
	f := h.f
	admin, alice, bob := bearer(f.admin), bearer(f.alice), bearer(f.bob)
	if len(h.ops) < 20 {
		t.Fatalf("the OpenAPI document lists only %d operations", len(h.ops))
	}
	byID := map[string]apiOp{}
	for _, o := range h.ops {
		if _, dup := byID[o.OperationID]; dup || o.OperationID == "" {
			t.Errorf("operation id %q is missing or used twice", o.OperationID)
		}
		byID[o.OperationID] = o
	}
	for _, id := range adminOnlyOps {
		if _, ok := byID[id]; !ok {
			t.Errorf("adminOnlyOps names %q, which the OpenAPI document does not have", id)
		}
	}

	t.Run("anonymous", func(t *testing.T) {
		badCredentials := []string{"", bearer("gft_nonsense"), "Bearer ", basic("bob", "wrong-password"), "Basic !!!not-base64", "Digest username=bob"}
		for _, o := range h.ops {
			target, _ := h.target(o, nil, nil)
			body, _ := h.body(o, false)
			for _, cred := range badCredentials {
				r := h.sendOp(o, target, cred, o.bodyType(), body)
				if !h.never5xx(t, o, "anon", "credentials "+strconv.Quote(cred), r) {
					continue
				}
				switch {
				case o.secured() && r.status != http.StatusUnauthorized:
					t.Errorf("%s with credentials %q: %s, want 401", o, cred, r)
				case o.secured() && (!r.problem() || r.header.Get("WWW-Authenticate") == ""):
					t.Errorf("%s with credentials %q: 401 without problem+json or WWW-Authenticate: %v", o, cred, r.header)
				case !o.secured() && cred == "" && r.status == http.StatusUnauthorized:
					t.Errorf("%s is public but answers 401: %s", o, r)
				}
			}
		}
		// Public pages outside the document.
		for _, p := range []string{"/v1", "/stable", "/healthz", "/readyz", "/openapi.json", "/openapi.yaml", "/docs", "/metrics", "/v1/transfers/schema"} {
			if r := h.send(http.MethodGet, p, "", "", nil); r.err != nil || r.status != http.StatusOK {
				t.Errorf("public GET %s: %s, want 200", p, r)
			}
		}
	})

	t.Run("other-user", func(t *testing.T) {
		var unseeded []string
		defer func() {
			if len(unseeded) > 0 {
				t.Logf("NOT SEEDED: %d operations act on a kind of resource seed() gives bob none of, so alice's refusal is not checked "+
					"(add one to seed() and h.bob): %s", len(unseeded), strings.Join(unseeded, ", "))
			}
		}()
		admins := map[string]bool{}
		for _, id := range adminOnlyOps {
			admins[id] = true
		}
		for _, id := range sharedOps {
			if _, ok := byID[id]; !ok {
				t.Errorf("sharedOps names %q, which the OpenAPI document does not have", id)
			}
		}
		for _, o := range h.ops {
			if !o.secured() {
				continue
			}
			target, kind := h.target(o, nil, nil)
			owned := kind == bobValue && !slices.Contains(sharedOps, o.OperationID)
			body, hinted := h.body(o, true)
			if kind == unknownValue && !owned && !hinted && !admins[o.OperationID] {
				// A kind of resource seed does not give bob: who owns the
				// example value is unknown, so only "never 5xx" is checked,
				// and only on reads (a write could be alice's own, real work).
				unseeded = append(unseeded, o.OperationID)
				if o.safe() {
					h.never5xx(t, o, "user", "alice on "+target, h.sendOp(o, target, alice, "", nil))
				} else {
					h.record(o, "user", 0)
				}
				continue
			}
			if o.safe() {
				// Bob reads it first: a cache keyed without the caller
				// would then hand alice bob's answer.
				rb := h.sendOp(o, target, bob, "", nil)
				h.never5xx(t, o, "owner", "bob reads his own", rb)
				if owned && rb.status/100 != 2 {
					t.Errorf("seed: bob's own %s %s answers %s: the refusal to alice below would prove nothing", o.method, target, rb)
				}
			}
			switch {
			case admins[o.OperationID], owned, hinted, o.safe():
			default:
				h.record(o, "user", 0) // creates the caller's own resource: nothing of bob's to try
				continue
			}
			r := h.sendOp(o, target, alice, o.bodyType(), body)
			if !h.never5xx(t, o, "user", "alice on "+target, r) {
				continue
			}
			switch {
			case admins[o.OperationID]:
				if r.status != http.StatusForbidden || !r.problem() {
					t.Errorf("%s is for administrators; alice got %s, want 403", o, r)
				}
			case owned || hinted:
				h.expect(t, o, r.status == http.StatusForbidden || r.status == http.StatusNotFound,
					"%s on bob's resource (%s, body %s): alice got %s, want 403 or 404", o, target, body, r)
			default:
				if r.status == http.StatusForbidden && strings.Contains(string(r.body), "administrators") {
					t.Errorf("%s answers alice %s: it is for administrators, add it to adminOnlyOps", o, r)
				}
				if r.status/100 == 2 {
					for _, secret := range h.private {
						if bytes.Contains(r.body, []byte(secret)) {
							t.Errorf("%s: alice's answer discloses bob's %q: %s", o, secret, r)
						}
					}
				}
			}
			// Filters naming another user.
			for _, prm := range o.Parameters {
				if prm.In != "query" || (prm.Name != "user" && prm.Name != "owner") {
					continue
				}
				tq, _ := h.target(o, nil, url.Values{prm.Name: {"bob"}})
				r := h.sendOp(o, tq, alice, "", nil)
				if h.never5xx(t, o, "user", "alice filters on bob", r) && r.status != http.StatusForbidden && r.status != http.StatusNotFound {
					t.Errorf("%s?%s=bob: alice got %s, want 403 or 404", o, prm.Name, r)
				}
			}
		}
	})

	t.Run("bodies", func(t *testing.T) {
		var maxAlloc struct {
			bytes int64
			what  string
		}
		defer func() { t.Logf("oversized bodies: at most %d MiB allocated (%s)", maxAlloc.bytes>>20, maxAlloc.what) }()
		for _, o := range h.ops {
			if o.RequestBody == nil {
				continue
			}
			target, _ := h.target(o, nil, nil)
			ct := o.bodyType()
			limit := o.MaxBodyBytes
			if limit <= 0 {
				limit = 1 << 20
			}

			// Malformed bodies of the declared type.
			var bad [][2]string // name, body
			switch {
			case o.takesHCL():
				bad = [][2]string{
					{"truncated", "site \"x\" {\n  cluster \"c\" {\n"},
					{"nul", "a = \"\x00\"\n}\n"},
					{"deep", "a = " + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "\n"},
					{"garbage", "\xff\xfe<<<>>>"},
				}
			case strings.HasSuffix(ct, "json"):
				bad = [][2]string{
					{"truncated", `{"name":`},
					{"trailing", `{} {"name":"x"}`},
					{"nul", "{\"name\"\x00:1}"},
					{"deep", strings.Repeat("[", 20000) + strings.Repeat("]", 20000)},
					{"not-json", "<user/>"},
				}
			default:
				bad = [][2]string{{"garbage", "%zz&&=%%"}}
			}
			for _, nb := range bad {
				name, b := nb[0], nb[1]
				r := h.sendOp(o, target, admin, ct, []byte(b))
				if h.never5xx(t, o, "body", "malformed "+name, r) && !rejected(r) {
					t.Errorf("%s with a malformed body (%s): %s, want 400 or 422", o, name, r)
				}
			}

			// A well-formed body under a content type the operation does not take.
			good, _ := h.body(o, false)
			for _, wrong := range []string{"text/plain", "application/xml", "image/png", "multipart/form-data; boundary=x"} {
				if o.accepts(strings.TrimSuffix(wrong, "; boundary=x")) {
					continue
				}
				r := h.sendOp(o, target, admin, wrong, good)
				if h.never5xx(t, o, "ctype", "content type "+wrong, r) && (r.status != http.StatusUnsupportedMediaType || !r.problem()) {
					t.Errorf("%s with Content-Type %s: %s, want 415 problem+json", o, wrong, r)
				}
			}

			// Oversized bodies: 32 MiB with a Content-Length, one byte over
			// the operation's limit with and without a length, 32 MiB
			// chunked (no length to refuse it up front), and 32 MiB chunked
			// without credentials.
			const huge = 32 << 20
			allocs := map[string]int64{}
			for _, c := range []struct {
				name    string
				auth    string
				n       int64
				chunked bool
				want    int
			}{
				{"32MiB", admin, huge, false, http.StatusRequestEntityTooLarge},
				{"limit+1", admin, limit + 1, false, http.StatusRequestEntityTooLarge},
				{"limit+1-chunked", admin, limit + 1, true, http.StatusRequestEntityTooLarge},
				{"32MiB-chunked", admin, huge, true, http.StatusRequestEntityTooLarge}, // after limit+1-chunked: compared with it
				{"32MiB-chunked-anon", "", huge, true, http.StatusUnauthorized},
			} {
				if !o.secured() && c.auth == "" {
					continue
				}
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				r, written := h.sendHuge(o.method, target, c.auth, ct, c.n, c.chunked)
				runtime.ReadMemStats(&after)
				alloc := int64(after.TotalAlloc - before.TotalAlloc)
				if !h.never5xx(t, o, "big", c.name, r) {
					continue
				}
				if r.status != c.want {
					t.Errorf("%s with a %s body (limit %d): %s, want %d", o, c.name, limit, r, c.want)
				}
				if c.n == huge && written >= c.n {
					t.Errorf("%s read the whole %s body before answering", o, c.name)
				}
				// The server may buffer up to the operation's limit, never the
				// body: huma reads into a bytes.Buffer that doubles as it
				// fills (about 4× the limit allocated in all, 8× under the
				// race detector), and a chunked 32 MiB body costs no more
				// than one just over the limit.
				if budget := 8*limit + 16<<20; alloc > budget {
					t.Errorf("%s with a %s body allocated %d MiB (budget %d MiB)", o, c.name, alloc>>20, budget>>20)
				}
				allocs[c.name] = alloc
				if c.name == "32MiB-chunked" && alloc > allocs["limit+1-chunked"]+limit+4<<20 {
					t.Errorf("%s: a 32 MiB body allocated %d MiB, one just over the %d MiB limit %d MiB: memory grows with the body",
						o, alloc>>20, limit>>20, allocs["limit+1-chunked"]>>20)
				}
				if alloc > maxAlloc.bytes {
					maxAlloc.bytes, maxAlloc.what = alloc, fmt.Sprintf("%s, %s body, limit %d MiB", o.OperationID, c.name, limit>>20)
				}
			}
		}
	})

	t.Run("path-traversal", func(t *testing.T) {
		for _, o := range h.ops {
			params := o.pathParams()
			if len(params) == 0 {
				continue
			}
			body, _ := h.body(o, false)
			for _, name := range params {
				for _, trav := range traversals {
					target, _ := h.target(o, map[string]string{name: trav}, nil)
					variants := []string{target, "/stable" + strings.TrimPrefix(target, "/v1")}
					if o.safe() {
						variants = append(variants, target+".json")
					}
					for _, v := range variants {
						r := h.sendOp(o, v, admin, o.bodyType(), body)
						if h.never5xx(t, o, "trav", v, r) {
							h.expect(t, o, r.status/100 == 4, "%s with %s=%s: %s %s → %s, want 4xx", o, name, trav, o.method, v, r)
						}
					}
				}
			}
		}
	})

	t.Run("query-abuse", func(t *testing.T) {
		n := 0
		for _, o := range h.ops {
			if !o.safe() {
				continue
			}
			for _, c := range queryAbuse(o) {
				n++
				target, _ := h.target(o, nil, c.query)
				r := h.sendOp(o, target, admin, "", nil)
				if !h.never5xx(t, o, "query", target, r) {
					continue
				}
				if c.want != 0 && r.status != c.want {
					t.Errorf("%s %s (%s): %s, want %d", o, target, c.name, r, c.want)
				}
			}
		}
		t.Logf("%d query-parameter abuse cases", n)
	})

	t.Run("transfer-urls", func(t *testing.T) {
		// File and storage paths that try to leave the allowed places, and
		// hosts the configuration does not allow.
		root := t.TempDir()
		f.eng.SetStoragePolicy(storage.Policy{FileRoots: []string{root}, HTTPHosts: []string{"data.example.org"}})
		o := byID["submit-transfer"]
		if o.Operation == nil {
			t.Skip("no submit-transfer operation")
		}
		dst := "file://" + root + "/out"
		for _, src := range []string{
			"file://" + root + "/../../../etc/passwd",
			"file://" + root + "/%2e%2e/%2e%2e/etc/passwd",
			"file:///etc/passwd",
			"file://" + root + "/..",
			"http://169.254.169.254/latest/meta-data/",
			"http://data.example.org.evil.example/x",
			"http://data.example.org@evil.example/x",
			"node://paravance-2/../../etc/passwd", // bob's node
		} {
			b, _ := json.Marshal(map[string]any{"files": []map[string]any{{"sources": []string{src}, "destinations": []string{dst}}}})
			r := h.send(http.MethodPost, "/v1/transfers", alice, JSONType, b)
			if h.never5xx(t, o, "trav", src, r) && r.status/100 != 4 {
				t.Errorf("transfer from %s: %s, want 4xx", src, r)
			}
		}
	})

	h.mu.Lock()
	for _, p := range h.panics {
		t.Errorf("panic: %s", p)
	}
	for id := range knownGaps {
		if _, ok := byID[id]; ok && !h.gapsSeen[id] && !t.Failed() {
			t.Errorf("knownGaps[%q] no longer shows: the gap is closed, remove its entry", id)
		}
	}
	h.mu.Unlock()
	h.summary()
}

type abuseCase struct {
	name  string
	query url.Values
	want  int // 0: anything but 5xx
}

// queryAbuse derives a deterministic table of bad query values from each
// query parameter's schema: below its minimum, above its maximum, not a
// number, not in its enum, over its length, not a time; plus values that are
// valid but odd, which must only never be a server error.
func queryAbuse(o apiOp) []abuseCase {
	var out []abuseCase
	add := func(name, param, value string, want int) {
		out = append(out, abuseCase{name: param + ": " + name, query: url.Values{param: {value}}, want: want})
	}
	for _, p := range o.Parameters {
		s := p.Schema
		if p.In != "query" || s == nil {
			continue
		}
		num := s.Type == "integer" || s.Type == "number"
		if s.Minimum != nil {
			add("below minimum", p.Name, strconv.FormatFloat(*s.Minimum-1, 'f', -1, 64), http.StatusUnprocessableEntity)
		}
		if s.Maximum != nil {
			add("above maximum", p.Name, strconv.FormatFloat(*s.Maximum+1, 'f', -1, 64), http.StatusUnprocessableEntity)
			add("far above maximum", p.Name, "2147483648", http.StatusUnprocessableEntity)
		}
		if num {
			add("not a number", p.Name, "abc", http.StatusUnprocessableEntity)
			add("overflows", p.Name, "99999999999999999999999", http.StatusUnprocessableEntity)
			add("negative", p.Name, "-1", 0)
			add("max int64", p.Name, strconv.FormatInt(math.MaxInt64, 10), 0)
		}
		if s.Type == "boolean" {
			add("not a boolean", p.Name, "maybe", http.StatusUnprocessableEntity)
		}
		if len(s.Enum) > 0 {
			add("unknown enum value", p.Name, "NO_SUCH_VALUE", http.StatusUnprocessableEntity)
		}
		if s.MaxLength != nil {
			add("over maxLength", p.Name, strings.Repeat("a", *s.MaxLength+1), http.StatusUnprocessableEntity)
		}
		if s.Format == "date-time" {
			add("not a time", p.Name, "yesterday", http.StatusUnprocessableEntity)
		}
		if s.Type == "string" && len(s.Enum) == 0 {
			add("sql", p.Name, "' OR '1'='1' --", 0)
			add("nul", p.Name, "a\x00b", 0)
			add("percent", p.Name, "%_%", 0)
		}
	}
	return out
}

// summary logs operation → statuses seen per check, so a reader sees what
// was covered ("-": not applicable, 0: deliberately not tried).
func (h *hostile) summary() {
	h.mu.Lock()
	defer h.mu.Unlock()
	cols := []string{"anon", "owner", "user", "body", "ctype", "big", "trav", "query"}
	var sb strings.Builder
	tw := tabwriter.NewWriter(&sb, 0, 0, 1, ' ', 0)
	fmt.Fprintf(tw, "operation\t%s\n", strings.Join(cols, "\t"))
	for _, o := range h.ops {
		fmt.Fprintf(tw, "%s", o.OperationID)
		for _, c := range cols {
			st := slices.Clone(h.seen[o.OperationID][c])
			slices.Sort(st)
			cell := "-"
			if len(st) > 0 {
				parts := make([]string, len(st))
				for i, s := range st {
					parts[i] = strconv.Itoa(s)
				}
				cell = strings.Join(parts, ",")
			}
			fmt.Fprintf(tw, "\t%s", cell)
		}
		fmt.Fprintln(tw)
	}
	_ = tw.Flush()
	total := 0
	var counts []string
	for _, c := range cols {
		total += h.checks[c]
		counts = append(counts, fmt.Sprintf("%s %d", c, h.checks[c]))
	}
	h.t.Logf("hostile input: %d operations, %d requests (%s)\n"+
		"statuses seen per check; -: not applicable, 0: not tried (the operation creates the caller's own resource)\n%s",
		len(h.ops), total, strings.Join(counts, ", "), sb.String())
}
