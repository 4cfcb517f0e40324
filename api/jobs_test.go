package api

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gridflow/gridflow/engine/store"
)

// seedGridJob gives owner a finished grid job with both sandboxes, stored in
// a sandbox directory of the test's.
func seedGridJob(t *testing.T, f *fixture, id, owner string) {
	t.Helper()
	ctx := context.Background()
	if !f.eng.Jobs.Sandboxes.Usable() {
		f.eng.SetSandboxes(t.TempDir(), 0)
	}
	pack := func(files map[string]string) string {
		w, err := f.eng.Jobs.Sandboxes.Create()
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"in.txt", "std.err", "std.out"} {
			if data, ok := files[name]; ok {
				if err := w.Add(name, int64(len(data)), strings.NewReader(data)); err != nil {
					t.Fatal(err)
				}
			}
		}
		sha, _, err := w.Commit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return sha
	}
	code := 0
	j, err := f.st.InsertJob(ctx, store.Job{ID: id, Owner: owner, Name: "seeded", State: store.JobReceived,
		Manifest:     []byte(`{"Executable":"/bin/cat","Arguments":"in.txt","InputSandbox":["in.txt"]}`),
		InputSandbox: pack(map[string]string{"in.txt": "input of " + id}), ExitCode: &code})
	if err != nil {
		t.Fatal(err)
	}
	out := pack(map[string]string{"std.out": "input of " + id, "std.err": ""})
	if _, err := f.st.UpdateJob(ctx, j.ID, store.JobUpdate{State: store.Str(store.JobDone), Site: store.Str("rennes"), Node: store.Str("paravance-3"),
		OutputSandbox: &out, MinorStatus: store.Str("Execution Complete")}); err != nil {
		t.Fatal(err)
	}
}

// untar reads a tar.gz into name → content.
func untar(t *testing.T, b []byte) map[string]string {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a gzip archive: %v", err)
	}
	tr := tar.NewReader(gz)
	out := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		out[h.Name] = string(data)
	}
}

func multipartBody(t *testing.T, manifest string, files map[string]string) (string, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if manifest != "" {
		if err := mw.WriteField("manifest", manifest); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range files {
		w, err := mw.CreateFormFile("file", name)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, data)
	}
	mw.Close()
	return buf.String(), mw.FormDataContentType()
}

// Bad submissions are refused with a 4xx naming the field, before anything
// is stored (the fixture has no Temporal: nothing valid gets further).
func TestJobSubmissionRefusals(t *testing.T) {
	f := newFixture(t)
	f.eng.SetSandboxes(t.TempDir(), 1000)
	big := strings.Repeat("x", 1001)
	cases := []struct {
		name, ct, body string
		status         int
		want           string // in the problem
	}{
		{"no executable", JSONType, `{"Arguments":"x"}`, 422, "body.Executable"},
		{"blank executable", JSONType, `{"Executable":"  "}`, 422, "body.Executable"},
		{"unknown site", JSONType, `{"Executable":"/bin/true","Sites":["rennes","nowhere"]}`, 422, "body.Sites[1]"},
		{"all banned", JSONType, `{"Executable":"/bin/true","Sites":["rennes"],"BannedSites":["rennes"]}`, 422, "banned"},
		{"no node fits", JSONType, `{"Executable":"/bin/true","Cores":4096}`, 422, "no node of"},
		{"bad memory", JSONType, `{"Executable":"/bin/true","Memory":"lots"}`, 422, "body.Memory"},
		{"cputime", JSONType, `{"Executable":"/bin/true","CPUTime":-5}`, 422, "body.CPUTime"},
		{"wrong type", JSONType, `{"Executable":"/bin/true","Cores":"four"}`, 422, "body.Cores"},
		{"unknown attribute", JSONType, `{"Executable":"/bin/true","Executible":"x"}`, 422, "body.Executible"},
		{"bad env name", JSONType, `{"Executable":"/bin/true","Environment":{"1X":"y"}}`, 422, "body.Environment.1X"},
		{"unterminated quote", JSONType, `{"Executable":"/bin/echo","Arguments":"'oops"}`, 422, "body.Arguments"},
		{"traversal in sandbox", JSONType, `{"Executable":"/bin/true","OutputSandbox":["../../etc/passwd"]}`, 422, "body.OutputSandbox[0]"},
		{"stdout declared", JSONType, `{"Executable":"/bin/true","OutputSandbox":["std.out"]}`, 422, "body.OutputSandbox[0]"},
		{"sandbox file not sent", JSONType, `{"Executable":"/bin/cat","InputSandbox":["in.txt"]}`, 422, "body.InputSandbox[0]"},
		{"not a member", JSONType, `{"Executable":"/bin/true","Project":"physics"}`, 403, "body.Project"},
		{"malformed", JSONType, `{"Executable":`, 400, "not valid JSON"},
		{"trailing", JSONType, `{"Executable":"/bin/true"} {}`, 400, "more data"},
		{"xml", "application/xml", `<job/>`, 415, "multipart/form-data"},
		{"empty", JSONType, ``, 400, "required"},
		{"wrong content type", "text/plain", `{"Executable":"/bin/true"}`, 415, "multipart/form-data"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.do(req{method: http.MethodPost, path: "/v1/jobs", token: f.alice, contentType: c.ct, body: c.body})
			if r.status != c.status || !strings.Contains(string(r.body), c.want) {
				t.Fatalf("%d %s, want %d mentioning %q", r.status, r.body, c.status, c.want)
			}
		})
	}
	mp := []struct {
		name     string
		manifest string
		files    map[string]string
		status   int
		want     string
	}{
		{"over the limit", `{"Executable":"/bin/cat"}`, map[string]string{"a": big}, 413, "limit of 1000 bytes"},
		{"over the limit in sum", `{"Executable":"/bin/cat"}`, map[string]string{"a": big[:600], "b": big[:600]}, 413, "limit of 1000 bytes"},
		{"no manifest part", "", map[string]string{"a": "x"}, 422, "no manifest part"},
		{"manifest names a file not sent", `{"Executable":"/bin/cat","InputSandbox":["a","b"]}`, map[string]string{"a": "x"}, 422, "body.InputSandbox[1]"},
		{"bad manifest part", `{"Executable":1}`, map[string]string{"a": "x"}, 422, "body.manifest.Executable"},
	}
	for _, c := range mp {
		t.Run("multipart "+c.name, func(t *testing.T) {
			body, ct := multipartBody(t, c.manifest, c.files)
			r := f.do(req{method: http.MethodPost, path: "/v1/jobs", token: f.alice, contentType: ct, body: body})
			if r.status != c.status || !strings.Contains(string(r.body), c.want) {
				t.Fatalf("%d %s, want %d mentioning %q", r.status, r.body, c.status, c.want)
			}
		})
	}
	// A valid job gets as far as Temporal, which this fixture lacks: 503,
	// and nothing is left behind.
	body, ct := multipartBody(t, `{"Executable":"/bin/cat","Arguments":"a"}`, map[string]string{"a": "x"})
	if r := f.do(req{method: http.MethodPost, path: "/v1/jobs", token: f.alice, contentType: ct, body: body}); r.status != 503 {
		t.Fatalf("valid job without Temporal: %d %s", r.status, r.body)
	}
	if _, total, _ := f.st.ListJobs(context.Background(), store.JobFilter{}); total != 0 {
		t.Fatalf("%d jobs stored by refused submissions", total)
	}
}

func TestJobReadsAndAccess(t *testing.T) {
	f := newFixture(t)
	seedGridJob(t, f, "jbob", "bob")
	ctx := context.Background()

	r := f.do(req{path: "/v1/jobs/jbob", token: f.bob, accept: JSONType})
	var it GridJobItem
	if r.status != 200 || json.Unmarshal(r.body, &it) != nil || it.Status != store.JobDone || it.Owner != "bob" || it.ExitCode == nil {
		t.Fatalf("bob reads his job: %d %s", r.status, r.body)
	}
	r = f.do(req{path: "/v1/jobs/jbob/manifest", token: f.bob, accept: JSONType})
	if r.status != 200 || !strings.Contains(string(r.body), `"Executable":"/bin/cat"`) {
		t.Fatalf("manifest: %d %s", r.status, r.body)
	}
	r = f.do(req{path: "/v1/jobs/jbob/inputsandbox", token: f.bob})
	if r.status != 200 || r.header.Get("Content-Type") != "application/gzip" || untar(t, r.body)["in.txt"] != "input of jbob" {
		t.Fatalf("input sandbox: %d %v", r.status, r.header)
	}
	r = f.do(req{path: "/v1/jobs/jbob/outputsandbox", token: f.admin})
	if out := untar(t, r.body); r.status != 200 || out["std.out"] != "input of jbob" || len(out) != 2 {
		t.Fatalf("output sandbox: %d %v", r.status, out)
	}
	// Others: 403 on every operation of the job, and no trace in lists.
	for _, p := range []string{"/v1/jobs/jbob", "/v1/jobs/jbob/manifest", "/v1/jobs/jbob/inputsandbox", "/v1/jobs/jbob/outputsandbox"} {
		if r := f.do(req{path: p, token: f.alice}); r.status != 403 {
			t.Errorf("alice GET %s: %d %s", p, r.status, r.body)
		}
	}
	if r := f.do(req{method: http.MethodDelete, path: "/v1/jobs/jbob", token: f.alice}); r.status != 403 {
		t.Errorf("alice kills bob's job: %d %s", r.status, r.body)
	}
	if r := f.do(req{method: http.MethodDelete, path: "/v1/jobs/jbob", token: f.bob}); r.status != 409 {
		t.Errorf("killing a finished job: %d %s", r.status, r.body)
	}
	if r := f.do(req{path: "/v1/jobs/nope", token: f.bob}); r.status != 404 {
		t.Errorf("unknown job: %d", r.status)
	}
	// A job still running has no output sandbox yet.
	if _, err := f.st.InsertJob(ctx, store.Job{ID: "jrun", Owner: "bob", Manifest: []byte(`{"Executable":"/bin/true"}`), State: store.JobRunning}); err != nil {
		t.Fatal(err)
	}
	if r := f.do(req{path: "/v1/jobs/jrun/outputsandbox", token: f.bob}); r.status != 404 || !strings.Contains(string(r.body), "Running") {
		t.Errorf("output sandbox of a running job: %d %s", r.status, r.body)
	}
	if r := f.do(req{path: "/v1/jobs/jrun/inputsandbox", token: f.bob}); r.status != 404 {
		t.Errorf("input sandbox of a job without files: %d %s", r.status, r.body)
	}
}

type jobPage struct {
	Items []GridJobItem `json:"items"`
	Total int           `json:"total"`
	Links []Link        `json:"links"`
}

// Jobs listed with DIRAC's parameters: allOwners, maxJobs, startJob and
// job attributes as filters.
func TestJobListingWithDIRACParameters(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for i := range 30 {
		owner := []string{"alice", "bob", "alice"}[i%3]
		state := []string{store.JobWaiting, store.JobRunning, store.JobDone, store.JobFailed, store.JobDone}[i%5]
		if _, err := f.st.InsertJob(ctx, store.Job{ID: fmt.Sprintf("j%02d", i), Owner: owner, Name: fmt.Sprintf("n%d", i%4), Group: "g",
			Manifest: []byte(`{}`), State: state, Site: []string{"rennes", "lyon"}[i%2]}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond) // distinct creation times: newest first is well defined
	}
	list := func(token, query string) (int, jobPage) {
		t.Helper()
		r := f.do(req{path: "/v1/jobs?" + query, token: token, accept: JSONType})
		var p jobPage
		if r.status == 200 {
			if err := json.Unmarshal(r.body, &p); err != nil {
				t.Fatal(err)
			}
		}
		return r.status, p
	}
	ids := func(p jobPage) string {
		var s []string
		for _, it := range p.Items {
			s = append(s, it.JobID)
		}
		return strings.Join(s, ",")
	}
	// Own jobs by default, newest first; 100 at most.
	if code, p := list(f.alice, ""); code != 200 || p.Total != 20 || len(p.Items) != 20 || p.Items[0].JobID != "j29" {
		t.Fatalf("alice's jobs: %d total %d first %s", code, p.Total, ids(p))
	}
	if code, p := list(f.admin, ""); code != 200 || p.Total != 0 {
		t.Fatalf("admin's own jobs: %d %d", code, p.Total)
	}
	// allOwners: administrators see everyone's; others are refused.
	if code, p := list(f.admin, "allOwners=true"); code != 200 || p.Total != 30 {
		t.Fatalf("allOwners: %d %d", code, p.Total)
	}
	if code, _ := list(f.alice, "allOwners=true"); code != 403 {
		t.Fatalf("alice with allOwners: %d", code)
	}
	if code, _ := list(f.alice, "Owner=bob"); code != 403 {
		t.Fatalf("alice filters on bob: %d", code)
	}
	// Paging.
	code, p := list(f.alice, "maxJobs=3&startJob=2")
	if code != 200 || p.Total != 20 || ids(p) != "j26,j24,j23" {
		t.Fatalf("page: %d total %d %s", code, p.Total, ids(p))
	}
	next := ""
	for _, l := range p.Links {
		if l.Rel == "next" {
			next = l.Href
		}
	}
	if next != "/v1/jobs?offset=5&limit=3" {
		t.Fatalf("next link %q", next)
	}
	if _, p := list(f.alice, "offset=5&limit=3"); ids(p) != "j21,j20,j18" {
		t.Fatalf("next page %s", ids(p))
	}
	// Attributes as filters: lists in either form, combined with AND.
	if _, p := list(f.admin, "allOwners=true&Status=Done"); p.Total != 12 {
		t.Fatalf("Done: %d", p.Total)
	}
	if _, p := list(f.admin, "allOwners=true&Status=Done,Failed"); p.Total != 18 {
		t.Fatalf("Done or Failed (comma): %d", p.Total)
	}
	if _, p := list(f.admin, "allOwners=true&Status=Done&Status=Failed&Site=lyon"); p.Total != 9 {
		t.Fatalf("Done or Failed at lyon (repeated): %d", p.Total)
	}
	if _, p := list(f.admin, "Owner=bob&JobName=n1"); p.Total != 3 || ids(p) != "j25,j13,j01" {
		t.Fatalf("bob's n1: %d %s", p.Total, ids(p))
	}
	if _, p := list(f.bob, "JobGroup=g&Status=Running&maxJobs=2"); p.Total != 2 || len(p.Items) != 2 {
		t.Fatalf("bob's running in g: %d", p.Total)
	}
	if code, _ := list(f.admin, "Status=Sleeping"); code != 422 {
		t.Fatalf("unknown state: %d", code)
	}
	if code, _ := list(f.admin, "maxJobs=0"); code != 422 {
		t.Fatalf("maxJobs=0: %d", code)
	}
}
