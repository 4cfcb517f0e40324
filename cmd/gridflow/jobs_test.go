package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gridflow/gridflow/engine/store"
)

// gridJob is a job as the REST API shows it.
type gridJob struct {
	JobID         string `json:"JobID"`
	Status        string `json:"Status"`
	MinorStatus   string `json:"MinorStatus"`
	Reason        string `json:"Reason"`
	Owner         string `json:"Owner"`
	Site          string `json:"Site"`
	Node          string `json:"Node"`
	Reservation   string `json:"Reservation"`
	Reschedules   int    `json:"RescheduleCounter"`
	ExitCode      *int   `json:"ExitCode"`
	InputSandbox  string `json:"InputSandbox"`
	OutputSandbox string `json:"OutputSandbox"`
	Detail        string `json:"detail"`
}

// submitJob posts a manifest, as JSON or, with files, as multipart.
func (c apiClient) submitJob(manifest map[string]any, files map[string]string) (int, gridJob) {
	c.t.Helper()
	raw, _ := json.Marshal(manifest)
	body, ct := bytes.NewReader(raw), "application/json"
	if files != nil {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		_ = mw.WriteField("manifest", string(raw))
		for name, data := range files {
			w, _ := mw.CreateFormFile("file", name)
			_, _ = io.WriteString(w, data)
		}
		mw.Close()
		body, ct = bytes.NewReader(buf.Bytes()), mw.FormDataContentType()
	}
	req, _ := http.NewRequest("POST", c.base+"/v1/jobs", body)
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Accept", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	var j gridJob
	b, _ := io.ReadAll(res.Body)
	_ = json.Unmarshal(b, &j)
	if res.StatusCode != 201 && j.Detail == "" {
		j.Detail = string(b)
	}
	return res.StatusCode, j
}

func (c apiClient) job(id string) gridJob {
	c.t.Helper()
	var j gridJob
	if code := c.do("GET", "/v1/jobs/"+id, nil, &j); code != 200 {
		c.t.Fatalf("GET job %s: %d %s", id, code, j.Detail)
	}
	return j
}

// waitJob polls a job until done says so.
func (c apiClient) waitJob(id string, within time.Duration, done func(gridJob) bool) gridJob {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		j := c.job(id)
		if done(j) {
			return j
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("job %s after %s: %+v", id, within, j)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// gridNodeState is the state of a node of the test's agent cluster.
func gridNodeState(c apiClient, node string) string {
	var n struct{ State string }
	c.do("GET", "/v1/sites/grid/clusters/real/nodes/"+node, nil, &n)
	return n.State
}

func jobEnded(j gridJob) bool { return store.IsJobFinal(j.Status) }

// sandbox downloads a job's input or output sandbox and unpacks it.
func (c apiClient) sandbox(id, which string) map[string]string {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.base+"/v1/jobs/"+id+"/"+which, nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/gzip" {
		c.t.Fatalf("GET %s of %s: %d %s", which, id, res.StatusCode, b)
	}
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		c.t.Fatalf("%s of %s is not gzip: %v", which, id, err)
	}
	tr := tar.NewReader(gz)
	out := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			c.t.Fatalf("%s of %s: %v", which, id, err)
		}
		data, _ := io.ReadAll(tr)
		out[h.Name] = string(data)
	}
}

// agentProcess asks an agent directly how one of its processes is.
func agentProcess(t *testing.T, addr, id string) (state string, exists bool) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+"/v1/processes/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+transferAgentToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var p struct{ State string }
	_ = json.NewDecoder(res.Body).Decode(&p)
	return p.State, res.StatusCode == 200
}

// TestGridJobsOnRealAgents runs DIRAC-style jobs on two gridflow agents on
// loopback (real processes and files on this host) through the REST API:
// an input sandbox staged and its output brought back, a failing job, a
// kill, jobs filtered and paged, and a job rescheduled after its agent was
// killed.
func TestGridJobsOnRealAgents(t *testing.T) {
	store.BcryptCost = bcrypt.MinCost
	agents := map[string]*loopAgent{
		"real-1": startLoopAgent(t, "127.0.0.2:0", t.TempDir()),
		"real-2": startLoopAgent(t, "127.0.0.3:0", t.TempDir()),
	}
	defer func() {
		for _, a := range agents {
			if a != nil {
				a.stop()
			}
		}
	}()
	tb := fmt.Sprintf(`site "grid" {
  cluster "real" {
    driver "agent" {
      agents = { "real-1" = %q, "real-2" = %q }
    }
    nodes {
      count = 2
      name  = "real-%%d"
      properties {
        cores   = 2
        memory  = "1GiB"
        disk    = "1GB"
        network = "1Gbps"
      }
    }
  }
}
site "sim" {
  cluster "s" {
    driver "sim" {
      boot_time = "0s"
    }
    nodes {
      count = 2
      name  = "s-%%d"
      properties {
        cores   = 4
        memory  = "8GiB"
        disk    = "10GB"
        network = "1Gbps"
      }
    }
  }
}
`, agents["real-1"].addr, agents["real-2"].addr)
	tbFile := filepath.Join(t.TempDir(), "grid.hcl")
	if err := os.WriteFile(tbFile, []byte(tb), 0o644); err != nil {
		t.Fatal(err)
	}
	const adminToken = "gft_grid-job-test-admin-token"
	d := startDev(t, t.TempDir(), "--testbed", tbFile, "--admin-token", adminToken, "--agent-token", transferAgentToken,
		"--job-node-lost-after", "2s", "--sandbox-limit", "64KiB")
	defer d.stop(t)
	admin := apiClient{t: t, base: "http://" + d.api, token: adminToken}
	users := userClients(t, admin, "alice", "bob")
	alice, bob := users[0], users[1]

	// An input sandbox in, real output back: a script of the sandbox reads
	// a file of the sandbox and writes a declared output file.
	script := "#!/bin/sh\necho \"$GREETING $1 $2 from job $JOBID\"\ntr a-z A-Z < input.txt > result.txt\necho to-stderr >&2\n"
	files := map[string]string{"run.sh": script, "input.txt": "some input\n"}
	code, j := alice.submitJob(map[string]any{"Executable": "run.sh", "Arguments": "'hello there' world", "JobName": "upper",
		"Sites": []string{"grid"}, "Environment": map[string]string{"GREETING": "bonjour"}, "CPUTime": 60,
		"OutputSandbox": []string{"result.txt", "missing.txt"}, "OutputData": []string{"result.txt"}, "OutputPath": "/alice/upper"}, files)
	if code != 201 || j.Status != store.JobReceived || j.InputSandbox == "" {
		t.Fatalf("submit = %d %+v", code, j)
	}
	done := alice.waitJob(j.JobID, 60*time.Second, jobEnded)
	if done.Status != store.JobDone || done.ExitCode == nil || *done.ExitCode != 0 || done.Site != "grid" || !strings.HasPrefix(done.Node, "real-") {
		t.Fatalf("job ended %+v", done)
	}
	recordHistory(t, d, j.JobID, "job-done.json")
	if !strings.Contains(done.Reason, "missing.txt") {
		t.Errorf("the reason does not name the output file the job did not write: %q", done.Reason)
	}
	out := alice.sandbox(j.JobID, "outputsandbox")
	if out["std.out"] != "bonjour hello there world from job "+j.JobID+"\n" || out["std.err"] != "to-stderr\n" || out["result.txt"] != "SOME INPUT\n" || len(out) != 3 {
		t.Fatalf("output sandbox: %q", out)
	}
	if in := alice.sandbox(j.JobID, "inputsandbox"); in["run.sh"] != script || in["input.txt"] != files["input.txt"] || len(in) != 2 {
		t.Fatalf("input sandbox: %q", in)
	}
	// OutputData is in the file catalogue, its replica the file on the node.
	var attrs struct {
		Size     int64
		Checksum string
		Replicas []struct{ URL string }
	}
	if code := alice.do("GET", "/v1/filecatalogue/file/"+base64.RawURLEncoding.EncodeToString([]byte("/alice/upper/result.txt"))+"/attributes", nil, &attrs); code != 200 ||
		attrs.Size != int64(len("SOME INPUT\n")) || !strings.HasPrefix(attrs.Checksum, "adler32:") || len(attrs.Replicas) != 1 ||
		attrs.Replicas[0].URL != "node://"+done.Node+"/jobs/"+j.JobID+"/0/result.txt" {
		t.Fatalf("catalogue entry of the job's output data: %d %+v", code, attrs)
	}
	if code, refused := bob.submitJob(map[string]any{"Executable": "/bin/true", "Sites": []string{"grid"}, "OutputData": []string{"x"}, "OutputPath": "/alice/steal"}, nil); code != 403 {
		t.Fatalf("bob registering under /alice: %d %+v", code, refused)
	}
	// The files are real files of the agent that ran the job.
	written, err := os.ReadFile(filepath.Join(agents[done.Node].dir, "files", "jobs", j.JobID, "0", "result.txt"))
	if err != nil || string(written) != "SOME INPUT\n" {
		t.Fatalf("result.txt on %s: %q %v", done.Node, written, err)
	}
	// The node is released: the job's reservation ends.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var r resv
		admin.do("GET", "/v1/sites/grid/reservations/"+done.Reservation, nil, &r)
		if r.State == "canceled" || r.State == "terminated" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job's reservation is %s", r.State)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Content-addressed: the same files make the same sandbox, stored once.
	code, again := bob.submitJob(map[string]any{"Executable": "/bin/true", "Sites": []string{"grid"}}, files)
	if code != 201 || again.InputSandbox != j.InputSandbox {
		t.Fatalf("same files, sandbox %s then %s", j.InputSandbox, again.InputSandbox)
	}
	if code := alice.do("GET", "/v1/jobs/"+again.JobID, nil, nil); code != 403 {
		t.Fatalf("alice reads bob's job: %d", code)
	}

	// A job that fails: its exit code and its output are kept.
	code, f := bob.submitJob(map[string]any{"Executable": "/bin/sh", "Arguments": `-c "echo oops >&2; exit 3"`, "JobName": "fails", "Sites": []string{"grid"}}, nil)
	if code != 201 {
		t.Fatalf("submit = %d %+v", code, f)
	}
	f = bob.waitJob(f.JobID, 60*time.Second, jobEnded)
	if f.Status != store.JobFailed || f.MinorStatus != "Application Finished With Errors" || f.ExitCode == nil || *f.ExitCode != 3 {
		t.Fatalf("failing job: %+v", f)
	}
	if out := bob.sandbox(f.JobID, "outputsandbox"); out["std.err"] != "oops\n" {
		t.Fatalf("failing job's output: %q", out)
	}
	// Bad input is refused with a 4xx, never a 5xx.
	for _, m := range []map[string]any{
		{"Arguments": "no executable"},
		{"Executable": "/bin/true", "Sites": []string{"atlantis"}},
		{"Executable": "/bin/true", "Cores": 64},
	} {
		if code, j := bob.submitJob(m, nil); code != 422 {
			t.Errorf("manifest %v: %d %s", m, code, j.Detail)
		}
	}
	if code, j := bob.submitJob(map[string]any{"Executable": "/bin/cat"}, map[string]string{"big": strings.Repeat("x", 65*1024)}); code != 413 {
		t.Errorf("sandbox over the limit: %d %s", code, j.Detail)
	}

	// Kill: the process stops, the node is released, the job ends Killed.
	code, k := bob.submitJob(map[string]any{"Executable": "/bin/sleep", "Arguments": "300", "JobName": "sleeper", "Sites": []string{"grid"}}, nil)
	if code != 201 {
		t.Fatalf("submit = %d %+v", code, k)
	}
	k = bob.waitJob(k.JobID, 60*time.Second, func(j gridJob) bool { return j.Status == store.JobRunning || jobEnded(j) })
	if k.Status != store.JobRunning {
		t.Fatalf("sleeper: %+v", k)
	}
	pid := k.JobID + "-0"
	if st, ok := agentProcess(t, agents[k.Node].addr, pid); !ok || st != "running" {
		t.Fatalf("sleeper's process on %s: %q %v", k.Node, st, ok)
	}
	if code := alice.do("DELETE", "/v1/jobs/"+k.JobID, nil, nil); code != 403 {
		t.Fatalf("alice kills bob's job: %d", code)
	}
	if code := bob.do("DELETE", "/v1/jobs/"+k.JobID, nil, nil); code != 202 {
		t.Fatalf("kill = %d", code)
	}
	k = bob.waitJob(k.JobID, 30*time.Second, jobEnded)
	if k.Status != store.JobKilled || !strings.Contains(k.Reason, "killed by bob") {
		t.Fatalf("killed job: %+v", k)
	}
	recordHistory(t, d, k.JobID, "job-killed.json")
	if st, _ := agentProcess(t, agents[k.Node].addr, pid); st != "exited" {
		t.Fatalf("the killed job's process is %q", st)
	}
	if code := bob.do("DELETE", "/v1/jobs/"+k.JobID, nil, nil); code != 409 {
		t.Fatalf("killing it again = %d", code)
	}
	deadline = time.Now().Add(30 * time.Second)
	for gridNodeState(admin, k.Node) != "free" {
		if time.Now().After(deadline) {
			t.Fatalf("%s is %q after the kill", k.Node, gridNodeState(admin, k.Node))
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Listing with DIRAC's parameters.
	var page struct {
		Items []gridJob `json:"items"`
		Total int       `json:"total"`
	}
	if code := bob.do("GET", "/v1/jobs?maxJobs=2&startJob=0", nil, &page); code != 200 || page.Total != 3 || len(page.Items) != 2 || page.Items[0].JobID != k.JobID {
		t.Fatalf("bob's jobs: %d %+v", code, page)
	}
	if bob.do("GET", "/v1/jobs?Status=Failed,Killed&JobName=fails", nil, &page); page.Total != 1 || page.Items[0].JobID != f.JobID {
		t.Fatalf("bob's failed jobs named fails: %+v", page)
	}
	if admin.do("GET", "/v1/jobs?allOwners=true&Site=grid&Status=Done", nil, &page); page.Total != 2 {
		t.Fatalf("every owner's Done jobs at grid: %+v", page)
	}
	if code := alice.do("GET", "/v1/jobs?allOwners=true", nil, nil); code != 403 {
		t.Fatalf("alice with allOwners: %d", code)
	}

	// A campaign's job steps: a script staged from the campaign file runs
	// as alice's grid job; a failing job on a "continue" step keeps its
	// exit code and stderr for the outputs.
	src := `
job "hello" {
  executable = "run.sh"
  arguments  = "from a campaign"
  sites      = ["grid"]
  cputime    = "1m"
  files      = { "run.sh" = "#!/bin/sh\necho \"hello $1 $2 $3\"\n" }
}

job "fails" {
  depends_on = [job.hello]
  executable = "/bin/sh"
  arguments  = "-c 'echo oops >&2; exit 3'"
  sites      = ["grid"]
  on_failure = "continue"
}

output "said" {
  value = trimspace(job.hello.stdout)
}
output "failed" {
  value = { code = job.fails.exit_code, status = job.fails.status, err = trimspace(job.fails.stderr) }
}
`
	var camp campaignResp
	if code := alice.do("POST", "/v1/campaigns", map[string]any{"source": src, "filename": "jobs.hcl"}, &camp); code != 201 {
		t.Fatalf("campaign with jobs: %d %+v", code, camp)
	}
	camp = alice.waitCampaign(camp.UID, 90*time.Second, "succeeded", "failed", "canceled")
	if camp.State != "succeeded" || string(camp.Outputs["said"]) != `"hello from a campaign"` ||
		string(camp.Outputs["failed"]) != `{"code":3,"err":"oops","status":"Failed"}` {
		t.Fatalf("campaign with jobs: %s %s %s", camp.State, camp.Reason, camp.Outputs)
	}
	if alice.do("GET", "/v1/jobs?JobName=job.hello", nil, &page); page.Total != 1 || page.Items[0].Status != store.JobDone {
		t.Fatalf("the campaign's job.hello: %+v", page)
	}

	// Rescheduling: the agent running a job is killed; the job moves to
	// the other node and ends Done there.
	code, m := alice.submitJob(map[string]any{"Executable": "/bin/sh", "Arguments": `-c "sleep 3; echo done on $(hostname)"`, "Sites": []string{"grid"}}, nil)
	if code != 201 {
		t.Fatalf("submit = %d %+v", code, m)
	}
	m = alice.waitJob(m.JobID, 60*time.Second, func(j gridJob) bool { return j.Status == store.JobRunning || jobEnded(j) })
	if m.Status != store.JobRunning {
		t.Fatalf("job to move: %+v", m)
	}
	first := m.Node
	agents[first].kill()
	agents[first] = nil
	m = alice.waitJob(m.JobID, 90*time.Second, jobEnded)
	if m.Status != store.JobDone || m.Reschedules != 1 || m.Node == first || !strings.HasPrefix(m.Node, "real-") {
		t.Fatalf("moved job: %+v (first on %s)", m, first)
	}
	recordHistory(t, d, m.JobID, "job-rescheduled.json")
	if out := alice.sandbox(m.JobID, "outputsandbox"); !strings.HasPrefix(out["std.out"], "done on ") {
		t.Fatalf("moved job's output: %q", out)
	}
	if st := gridNodeState(admin, first); st != "down" {
		t.Fatalf("the killed agent's node is %q", st)
	}
	// With no node left that answers, a job fails with the reason instead
	// of waiting forever.
	for node, a := range agents {
		if a != nil {
			a.kill()
			agents[node] = nil
		}
	}
	code, n := alice.submitJob(map[string]any{"Executable": "/bin/true", "Sites": []string{"grid"}, "MaxReschedules": 0}, nil)
	if code != 201 {
		t.Fatalf("submit = %d %+v", code, n)
	}
	n = alice.waitJob(n.JobID, 90*time.Second, jobEnded)
	if n.Status != store.JobFailed || n.Reason == "" {
		t.Fatalf("job without nodes: %+v", n)
	}
	t.Logf("job without nodes: %s / %s", n.MinorStatus, n.Reason)
}

// TestGridJobsOnSimNodes runs trivial jobs on the simulated testbed: they
// end Done with the simulated output.
func TestGridJobsOnSimNodes(t *testing.T) {
	d, admin := startTinyDev(t, t.TempDir())
	defer d.stop(t)
	code, j := admin.submitJob(map[string]any{"Executable": "/bin/echo", "Arguments": "hello grid", "Cores": 16}, nil)
	if code != 201 {
		t.Fatalf("submit = %d %+v", code, j)
	}
	j = admin.waitJob(j.JobID, 30*time.Second, jobEnded)
	if j.Status != store.JobDone || !strings.HasPrefix(j.Node, "b-") {
		t.Fatalf("sim job %+v", j)
	}
	if out := admin.sandbox(j.JobID, "outputsandbox"); out["std.out"] != "hello grid\n" {
		t.Fatalf("sim job's output %q", out)
	}

	// More jobs than nodes: they wait for a free node (Waiting), never
	// more running than there are nodes, and all end Done.
	var ids []string
	for i := range 8 {
		code, j := admin.submitJob(map[string]any{"Executable": "/bin/sh", "Arguments": fmt.Sprintf(`-c "sleep 1; echo %d"`, i), "Cores": 16, "JobName": "queue"}, nil)
		if code != 201 {
			t.Fatalf("submit = %d %+v", code, j)
		}
		ids = append(ids, j.JobID)
	}
	sawWaiting, most := false, 0
	deadline := time.Now().Add(90 * time.Second)
	for {
		var page struct {
			Items []gridJob `json:"items"`
		}
		admin.do("GET", "/v1/jobs?JobName=queue", nil, &page)
		running, done := 0, 0
		for _, j := range page.Items {
			switch j.Status {
			case store.JobMatched, store.JobRunning, store.JobCompleted:
				running++
			case store.JobWaiting:
				sawWaiting = sawWaiting || strings.HasPrefix(j.MinorStatus, "Waiting for a free node")
			case store.JobDone:
				done++
			default:
				if jobEnded(j) {
					t.Fatalf("queued job ended %+v", j)
				}
			}
		}
		most = max(most, running)
		if done == len(ids) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d queued jobs Done after 90s", done, len(ids))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !sawWaiting || most > 2 {
		t.Fatalf("queued jobs: saw one waiting for a node %v, at most %d on the 2 nodes that fit", sawWaiting, most)
	}
}
