package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gridflow/gridflow/dsl/campaign"
)

// runCLI runs the gridflow binary's app in-process and returns what it
// printed.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	app := newApp()
	var out, errOut bytes.Buffer
	app.Writer, app.ErrWriter = &out, &errOut
	app.ExitErrHandler = func(*cli.Context, error) {} // never os.Exit in a test
	err = app.Run(append([]string{"gridflow"}, args...))
	return out.String(), errOut.String(), err
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCampaignValidateExamples(t *testing.T) {
	files, err := filepath.Glob("../../campaigns/examples/*.hcl")
	if err != nil || len(files) < 3 {
		t.Fatalf("found %d examples (%v)", len(files), err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			out, errOut, err := runCLI(t, "campaign", "validate", f)
			if err != nil {
				t.Fatalf("validate: %v\n%s", err, errOut)
			}
			if errOut != "" {
				t.Errorf("an example should not even warn:\n%s", errOut)
			}
			if !regexp.MustCompile(`^` + regexp.QuoteMeta(f) + `: \d+ steps?, valid\n$`).MatchString(out) {
				t.Errorf("stdout = %q, want %q", out, f+": N steps, valid")
			}
		})
	}
}

func TestCampaignValidateReportsDiagnostics(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, src string
		want      string // a regexp over stderr, after the file name
	}{
		{"site.hcl", `reservation "r" {
  site  = "renes"
  nodes = 1
}
`, `:2:11: error: No such site\n  2 \|   site  = "renes"\n    \|           \^+\n  The testbed has no site "renes"`},
		{"syntax.hcl", `reservation "r" {
  site = "rennes"
  nodes = 1
`, `:\d+:\d+: error: `},
		{"reference.hcl", `run "x" {
  nodes   = reservation.missing.nodes
  command = "hostname"
}
`, `:2:24: error: Reference to undeclared step\n`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, dir, tc.name, tc.src)
			out, errOut, err := runCLI(t, "campaign", "validate", path)
			if err == nil || !strings.Contains(err.Error(), "error") {
				t.Fatalf("err = %v, want an error count", err)
			}
			if out != "" {
				t.Errorf("stdout = %q, want nothing", out)
			}
			if !regexp.MustCompile(regexp.QuoteMeta(path) + tc.want).MatchString(errOut) {
				t.Errorf("stderr does not match %q:\n%s", tc.want, errOut)
			}
		})
	}
	if _, _, err := runCLI(t, "campaign", "validate"); err == nil || !strings.Contains(err.Error(), "give the campaign file") {
		t.Errorf("no file: err = %v", err)
	}
	if _, _, err := runCLI(t, "campaign", "validate", filepath.Join(dir, "absent.hcl")); err == nil {
		t.Error("a missing file must fail")
	}
}

// gpuCampaign asks for var.nodes of the 5 GPU nodes of nancy/grue in the
// built-in testbed.
const gpuCampaign = `variable "nodes" {
  type    = number
  default = 1
}

reservation "gpu" {
  site       = "nancy"
  cluster    = "grue"
  nodes      = var.nodes
  properties = { gpu_count = 4 }
}
`

func TestCampaignValidateVariables(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "gpu.hcl", gpuCampaign)
	big := writeFile(t, dir, "big.vars", "nodes = 7\n")
	small := writeFile(t, dir, "small.vars", "nodes = 2\n")
	for _, tc := range []struct {
		name    string
		env     string // GRIDFLOW_VAR_nodes, if not ""
		args    []string
		wantErr string // in stderr; "" for valid
	}{
		{"default", "", nil, ""},
		{"var after the file", "", []string{file, "-var", "nodes=6"}, "only 5 match"},
		{"var before the file", "", []string{"-var", "nodes=6", file}, "only 5 match"},
		{"var with equals", "", []string{file, "--var=nodes=5"}, ""},
		{"last var wins", "", []string{file, "-var", "nodes=9", "-var", "nodes=2"}, ""},
		{"environment", "9", nil, "only 5 match"},
		{"var beats environment", "9", []string{file, "-var", "nodes=2"}, ""},
		{"var file", "", []string{file, "-var-file", big}, "only 5 match"},
		{"later var file wins", "", []string{file, "-var-file", big, "-var-file", small}, ""},
		{"var beats var file", "", []string{file, "-var-file", big, "-var", "nodes=3"}, ""},
		{"undeclared variable", "", []string{file, "-var", "nodez=3"}, "nodez"},
		{"wrong type", "", []string{file, "-var", "nodes=many"}, "nodes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("GRIDFLOW_VAR_nodes", tc.env)
			}
			args := tc.args
			if args == nil {
				args = []string{file}
			}
			out, errOut, err := runCLI(t, append([]string{"campaign", "validate"}, args...)...)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("err = %v\n%s", err, errOut)
				}
				if want := file + ": 1 step, valid\n"; out != want {
					t.Errorf("stdout = %q, want %q", out, want)
				}
				return
			}
			if err == nil {
				t.Fatalf("valid, want an error with %q", tc.wantErr)
			}
			if !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tc.wantErr, errOut)
			}
			if strings.Contains(tc.wantErr, "match") && !strings.Contains(errOut, file+":9:") {
				t.Errorf("stderr does not point at the nodes line of %s:\n%s", file, errOut)
			}
		})
	}

	for _, bad := range [][]string{{file, "-var", "nodes"}, {file, "-var"}, {file, "--nope"}} {
		if _, _, err := runCLI(t, append([]string{"campaign", "validate"}, bad...)...); err == nil {
			t.Errorf("validate %v: no error", bad)
		}
	}
}

func TestCampaignValidateOtherTestbed(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "tiny.hcl", `reservation "r" {
  site  = "s"
  nodes = 2
}
`)
	if _, errOut, err := runCLI(t, "campaign", "validate", file, "--testbed", "testdata/tiny.hcl"); err != nil {
		t.Fatalf("against testdata/tiny.hcl: %v\n%s", err, errOut)
	}
	_, errOut, err := runCLI(t, "campaign", "validate", file)
	if err == nil || !strings.Contains(errOut, "No such site") {
		t.Fatalf("against the built-in testbed: err = %v\n%s", err, errOut)
	}
	badTestbed := writeFile(t, dir, "bad-testbed.hcl", "site \"x\" {\n  cluster {\n}\n")
	_, errOut, err = runCLI(t, "campaign", "validate", "--testbed", badTestbed, file)
	if err == nil || !strings.Contains(err.Error(), "testbed") || !strings.Contains(errOut, "bad-testbed.hcl:") {
		t.Fatalf("a broken testbed: err = %v\n%s", err, errOut)
	}
}

func TestCampaignPlan(t *testing.T) {
	out, errOut, err := runCLI(t, "campaign", "plan", "../../campaigns/examples/hello.hcl", "-var", "nodes=3", "-var", "site=lyon")
	if err != nil {
		t.Fatalf("plan: %v\n%s", err, errOut)
	}
	for _, want := range []string{"Campaign ../../campaigns/examples/hello.hcl: 2 steps", "Level 0", "reservation.hello", "run.hostname", "Nodes requested: lyon 3", "hostnames"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}

	file := writeFile(t, t.TempDir(), "gpu.hcl", gpuCampaign)
	out, errOut, err = runCLI(t, "campaign", "plan", file, "-var", "nodes=6")
	if err == nil || out != "" || !strings.Contains(errOut, "Not enough matching nodes") {
		t.Fatalf("plan of an impossible campaign: err = %v, stdout %q, stderr:\n%s", err, out, errOut)
	}
}

func TestFmt(t *testing.T) {
	dir := t.TempDir()
	ugly := "reservation \"r\" {\nsite = \"rennes\"\n      nodes    = 2\n  walltime=\"1h\"\n}\n"
	want := string(campaign.Format([]byte(ugly)))
	if want == ugly {
		t.Fatal("the test input is already formatted")
	}
	file := filepath.Join(dir, "ugly.hcl")
	if err := os.WriteFile(file, []byte(ugly), 0o640); err != nil {
		t.Fatal(err)
	}
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	// --check, before or after the files, writes nothing and fails.
	for _, args := range [][]string{{"fmt", "--check", file}, {"fmt", file, "--check"}} {
		out, _, err := runCLI(t, args...)
		if err == nil || out != file+"\n" {
			t.Fatalf("%v: err = %v, stdout %q", args, err, out)
		}
		if read(file) != ugly {
			t.Fatalf("%v changed the file", args)
		}
	}

	out, errOut, err := runCLI(t, "fmt", file)
	if err != nil || out != file+"\n" {
		t.Fatalf("fmt: err = %v, stdout %q, stderr %q", err, out, errOut)
	}
	if got := read(file); got != want {
		t.Fatalf("fmt wrote\n%s\nwant\n%s", got, want)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode after fmt: %v %v, want 0640", fi.Mode(), err)
	}
	if out, _, err := runCLI(t, "fmt", "--check", file); err != nil || out != "" {
		t.Fatalf("--check of a formatted file: err = %v, stdout %q", err, out)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("fmt left files behind: %v", entries)
	}

	// A syntax error is reported and the file left as it is; the other
	// files are still formatted.
	brokenSrc := "reservation \"r\" {\n      site = \"rennes\"\n"
	broken := writeFile(t, dir, "broken.hcl", brokenSrc)
	other := writeFile(t, dir, "other.hcl", ugly)
	out, errOut, err = runCLI(t, "fmt", broken, other)
	if err == nil {
		t.Fatal("fmt of a broken file: no error")
	}
	if !regexp.MustCompile(regexp.QuoteMeta(broken) + `:\d+:\d+: error: `).MatchString(errOut) {
		t.Errorf("stderr lacks a file:line:col diagnostic:\n%s", errOut)
	}
	if read(broken) != brokenSrc {
		t.Error("fmt changed a file with syntax errors")
	}
	if out != other+"\n" || read(other) != want {
		t.Errorf("the good file beside a broken one: stdout %q, content\n%s", out, read(other))
	}

	// A directory stands for its *.hcl files; a link keeps pointing at its file.
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	inDir := writeFile(t, sub, "a.hcl", ugly)
	writeFile(t, sub, "notes.txt", ugly)
	link := filepath.Join(dir, "link.hcl")
	target := writeFile(t, dir, "target.hcl", ugly)
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if out, errOut, err := runCLI(t, "fmt", sub, link); err != nil || out != inDir+"\n"+link+"\n" {
		t.Fatalf("fmt DIR LINK: err = %v, stdout %q, stderr %q", err, out, errOut)
	}
	if read(inDir) != want || read(filepath.Join(sub, "notes.txt")) != ugly {
		t.Error("fmt DIR must format the *.hcl files and only them")
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 || read(target) != want {
		t.Errorf("the link was replaced or its target not formatted: %v %v", fi, err)
	}
	if _, _, err := runCLI(t, "fmt"); err == nil {
		t.Error("fmt without files: no error")
	}
}

// fakeCampaignAPI serves the campaign endpoints of the REST API: a campaign
// is pending when submitted, then running, then ends in final.
type fakeCampaignAPI struct {
	t     *testing.T
	final string

	mu        sync.Mutex
	posted    map[string]any
	auth      string
	gets      int
	cancelled bool
}

func (f *fakeCampaignAPI) item(state string) map[string]any {
	step := func(addr, kind, state string, outputs any) map[string]any {
		s := map[string]any{"address": addr, "kind": kind, "state": state, "attempts": 1, "outputs": outputs}
		if state != "pending" {
			s["started_at"] = "2030-01-15T20:00:00Z"
		}
		if state == "succeeded" || state == "failed" {
			s["ended_at"] = "2030-01-15T20:00:03.5Z"
		}
		return s
	}
	res, run := "pending", "pending"
	var runOut any
	switch state {
	case "running":
		res, run = "succeeded", "running"
	case "succeeded", "failed":
		res, run = "succeeded", state
		// As the engine records them: one {Address, Output} per instance.
		runOut = []any{map[string]any{"Address": "run.hostname", "Output": map[string]any{
			"exit_code": 3, "stdout": "paravance-1\n", "stderr": "",
			"results": map[string]any{
				"paravance-1.rennes.grid5000.fr": map[string]any{"exit_code": 0, "stdout": "paravance-1\n", "stderr": ""},
				"paravance-2.rennes.grid5000.fr": map[string]any{"exit_code": 3, "stdout": "", "stderr": "no such command"},
			}}}}
	}
	it := map[string]any{"uid": "cmp-42", "name": "hello", "owner": "alice", "state": state,
		"created_at": "2030-01-15T19:59:59Z", "filename": "hello.hcl", "variables": map[string]any{"nodes": "4", "site": "lyon"},
		"steps": []any{
			step("reservation.hello", "reservation", res, []any{map[string]any{"Address": "reservation.hello",
				"Output": map[string]any{"id": "r-1", "site": "rennes", "nodes": []string{"paravance-1"}}}}),
			step("run.hostname", "run", run, runOut),
		},
		"links": []any{map[string]any{"rel": "self", "href": "/v1/campaigns/cmp-42"}},
	}
	if state == "failed" {
		it["reason"] = "run.hostname: exit code 3 on paravance-2"
		it["steps"].([]any)[1].(map[string]any)["error"] = "exit code 3 on paravance-2"
	}
	if state == "succeeded" {
		it["outputs"] = map[string]any{"hostnames": map[string]any{"paravance-1": "paravance-1"}}
	}
	return it
}

func (f *fakeCampaignAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.auth = r.Header.Get("Authorization")
	reply := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	switch {
	case r.Method == "POST" && r.URL.Path == "/v1/campaigns":
		if err := json.NewDecoder(r.Body).Decode(&f.posted); err != nil {
			reply(400, map[string]any{"detail": err.Error()})
			return
		}
		reply(201, f.item("pending"))
	case r.Method == "GET" && r.URL.Path == "/v1/campaigns":
		reply(200, map[string]any{"items": []any{f.item("running")}, "total": 3, "offset": 0})
	case r.Method == "GET" && r.URL.Path == "/v1/campaigns/cmp-42":
		f.gets++
		if f.gets == 1 {
			reply(200, f.item("running"))
			return
		}
		reply(200, f.item(f.final))
	case r.Method == "DELETE" && r.URL.Path == "/v1/campaigns/cmp-42":
		f.cancelled = true
		w.WriteHeader(http.StatusAccepted)
	case strings.HasPrefix(r.URL.Path, "/v1/campaigns/"):
		reply(404, map[string]any{"detail": "no campaign " + strings.TrimPrefix(r.URL.Path, "/v1/campaigns/")})
	default:
		f.t.Errorf("unexpected %s %s", r.Method, r.URL)
		w.WriteHeader(http.StatusNotFound)
	}
}

func TestCampaignRunWait(t *testing.T) {
	defer func(d time.Duration) { campaignPollInterval = d }(campaignPollInterval)
	campaignPollInterval = 5 * time.Millisecond
	hello := "../../campaigns/examples/hello.hcl"
	src, err := os.ReadFile(hello)
	if err != nil {
		t.Fatal(err)
	}

	for _, final := range []string{"succeeded", "failed"} {
		t.Run(final, func(t *testing.T) {
			t.Setenv("GRIDFLOW_VAR_site", "lyon")    // declared: sent
			t.Setenv("GRIDFLOW_VAR_nodes", "9")      // overridden by -var
			t.Setenv("GRIDFLOW_VAR_undeclared", "x") // not declared: not sent
			api := &fakeCampaignAPI{t: t, final: final}
			srv := httptest.NewServer(api)
			defer srv.Close()
			out, errOut, err := runCLI(t, "campaign", "run", "--api", srv.URL, "--token", "tok", hello,
				"-var", "nodes=4", "--sid", "s-1", "--name", "hello", "--wait")
			t.Logf("stdout:\n%s\nstderr:\n%s", out, errOut)

			api.mu.Lock()
			posted, auth := api.posted, api.auth
			api.mu.Unlock()
			wantBody := map[string]any{"source": string(src), "filename": hello, "sid": "s-1", "name": "hello",
				"variables": map[string]any{"nodes": "4", "site": "lyon"}}
			if g, w := jsonText(posted), jsonText(wantBody); g != w {
				t.Errorf("posted %s\nwant   %s", g, w)
			}
			if auth != "Bearer tok" {
				t.Errorf("Authorization = %q", auth)
			}
			if !strings.HasPrefix(out, "cmp-42\n") {
				t.Errorf("stdout must start with the id:\n%s", out)
			}
			for _, want := range []string{"campaign cmp-42 pending", "campaign cmp-42 running", "campaign cmp-42 " + final,
				"reservation.hello", "run.hostname"} {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q", want)
				}
			}
			if final == "succeeded" {
				if err != nil {
					t.Fatalf("a succeeded campaign: err = %v", err)
				}
				if !strings.Contains(out, "Outputs\n  hostnames = {") {
					t.Errorf("no outputs at the end:\n%s", out)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "failed") || !strings.Contains(err.Error(), "exit code 3") {
				t.Fatalf("a failed campaign: err = %v, want the state and reason", err)
			}
			if !regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d  run\.hostname +failed: exit code 3 on paravance-2$`).MatchString(out) {
				t.Errorf("the step's error is not shown:\n%s", out)
			}
		})
	}

	// Without --wait, only the id.
	api := &fakeCampaignAPI{t: t, final: "succeeded"}
	srv := httptest.NewServer(api)
	defer srv.Close()
	out, _, err := runCLI(t, "campaign", "run", "--api", srv.URL, hello)
	if err != nil || out != "cmp-42\n" || api.gets != 0 {
		t.Fatalf("run without --wait: err = %v, stdout %q, %d polls", err, out, api.gets)
	}
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestCampaignStatusListLogsCancel(t *testing.T) {
	api := &fakeCampaignAPI{t: t, final: "failed"}
	api.gets = 1 // past the first poll: the campaign has ended
	srv := httptest.NewServer(api)
	defer srv.Close()

	out, _, err := runCLI(t, "campaign", "status", "--api", srv.URL, "cmp-42")
	if err != nil {
		t.Fatal(err)
	}
	for _, re := range []string{
		`(?m)^Campaign cmp-42 \(hello\): failed$`,
		`(?m)^  reason   run.hostname: exit code 3 on paravance-2$`,
		`(?m)^  vars     nodes=4 site=lyon$`,
		`(?m)^STEP\s+KIND\s+STATE\s+ATTEMPTS\s+DURATION\s+ERROR$`,
		`(?m)^reservation.hello\s+reservation\s+succeeded\s+1\s+3.5s\s*$`,
		`(?m)^run.hostname\s+run\s+failed\s+1\s+3.5s\s+exit code 3 on paravance-2$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("status does not match %s:\n%s", re, out)
		}
	}

	out, _, err = runCLI(t, "campaign", "logs", "--api", srv.URL, "cmp-42")
	if err != nil {
		t.Fatal(err)
	}
	want := "==> run.hostname on paravance-1.rennes.grid5000.fr (exit 0)\n--- stdout\nparavance-1\n" +
		"==> run.hostname on paravance-2.rennes.grid5000.fr (exit 3)\n--- stderr\nno such command\n"
	if out != want {
		t.Errorf("logs:\n%s\nwant:\n%s", out, want)
	}

	out, _, err = runCLI(t, "campaign", "list", "--api", srv.URL)
	if err != nil || !regexp.MustCompile(`(?m)^cmp-42\s+hello\s+alice\s+running\s`).MatchString(out) || !strings.Contains(out, "(1 of 3") {
		t.Errorf("list: err = %v:\n%s", err, out)
	}

	if _, _, err := runCLI(t, "campaign", "cancel", "--api", srv.URL, "cmp-42"); err != nil || !api.cancelled {
		t.Errorf("cancel: err = %v, cancelled %v", err, api.cancelled)
	}
	if _, _, err := runCLI(t, "campaign", "status", "--api", srv.URL, "nope"); err == nil || !strings.Contains(err.Error(), "no campaign nope") {
		t.Errorf("status of an unknown campaign: err = %v", err)
	}
	if _, _, err := runCLI(t, "campaign", "status", "--api", srv.URL); err == nil {
		t.Error("status without an id: no error")
	}
}

func TestRunOutputsShapes(t *testing.T) {
	one := map[string]any{"stdout": "a", "stderr": "", "exit_code": 0.0}
	for _, tc := range []struct {
		name string
		v    any
		want []string
	}{
		{"single node", one, []string{"run.x"}},
		{"recorded instances", []any{map[string]any{"Address": "run.x[0]", "Output": one}, map[string]any{"Address": "run.x[1]", "Output": one}},
			[]string{"run.x[0]", "run.x[1]"}},
		{"count", []any{one, one}, []string{"run.x[0]", "run.x[1]"}},
		{"for_each", map[string]any{"b": one, "a": one}, []string{`run.x["a"]`, `run.x["b"]`}},
		{"not a run", map[string]any{"id": "r-1", "nodes": []any{"n"}}, nil},
		{"nothing yet", nil, nil},
	} {
		var got []string
		for _, o := range runOutputs("run.x", tc.v) {
			got = append(got, o.Instance)
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
