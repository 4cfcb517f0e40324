package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gridflow/gridflow/engine/hw"
	"github.com/gridflow/gridflow/engine/hw/agentclient"
	"github.com/gridflow/gridflow/engine/store"
)

// Deployments on real gridflow agents: each agent is a child process (this
// test binary running `gridflow agent`) on its own loopback address, so that
// it can be killed with SIGKILL as a machine that dies; the environment is an
// archive made by `gridflow env pack`, served by a local HTTP server whose
// gate holds the downloads half way, so that a fault lands while the nodes
// are writing the image, without racing a timer.

const (
	deployAgentToken = "agent-deployment-token-0123456789"
	deployAdminToken = "gft_deployment-agents-admin-token"
)

// TestChildAgent is not a test: it is the body of the agent processes the
// deployment tests on real agents start and kill. It runs only when asked to.
func TestChildAgent(t *testing.T) {
	args := os.Getenv("GRIDFLOW_TEST_CHILD_AGENT")
	if args == "" {
		t.Skip("runs only as a child agent process of the deployment tests on real agents (GRIDFLOW_TEST_CHILD_AGENT is unset)")
	}
	if err := newApp().Run(append([]string{"gridflow", "agent"}, strings.Split(args, "\x1f")...)); err != nil {
		t.Fatal(err)
	}
}

// childAgent is a gridflow agent running in a child process.
type childAgent struct {
	addr, dir string
	cmd       *exec.Cmd
	exited    chan struct{}
}

// loopbackAddrs returns n free host:port addresses, one per loopback
// address 127.0.0.2, 127.0.0.3, …, as agents on one machine use them.
func loopbackAddrs(tb testing.TB, n int) []string {
	tb.Helper()
	var out []string
	for i := range n {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", i+2))
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, l.Addr().String())
		l.Close()
	}
	return out
}

// startChildAgent starts an agent on addr with its data in dir and waits
// until it answers. An agent started again on the address of a killed one
// retries until the address is free.
func startChildAgent(tb testing.TB, addr, dir string) *childAgent {
	tb.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		a := &childAgent{addr: addr, dir: dir, exited: make(chan struct{})}
		a.cmd = exec.Command(os.Args[0], "-test.run=^TestChildAgent$", "-test.timeout=60m")
		a.cmd.Env = append(os.Environ(), "GRIDFLOW_AGENT_TOKEN="+deployAgentToken,
			"GRIDFLOW_TEST_CHILD_AGENT="+strings.Join([]string{"--listen", addr, "--data-dir", dir, "--log-level", "warn"}, "\x1f"))
		a.cmd.Stderr = os.Stderr
		// The agent dies with the test binary, whatever happens to it.
		a.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := a.cmd.Start(); err != nil {
			tb.Fatal(err)
		}
		go func() { _ = a.cmd.Wait(); close(a.exited) }()
		tb.Cleanup(a.stop)
		for {
			if agentAnswers(addr) {
				return a
			}
			select {
			case <-a.exited:
			case <-time.After(50 * time.Millisecond):
				if time.Now().After(deadline) {
					tb.Fatalf("agent on %s does not answer after 60s", addr)
				}
				continue
			}
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("agent on %s keeps exiting during start (%v)", addr, a.cmd.ProcessState)
		}
		time.Sleep(100 * time.Millisecond) // the address of a killed agent is not free yet
	}
}

func agentAnswers(addr string) bool {
	req, _ := http.NewRequest("GET", "http://"+addr+"/v1/info", nil)
	req.Header.Set("Authorization", "Bearer "+deployAgentToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == 200
}

// kill ends the agent with SIGKILL: its connections drop mid-request.
func (a *childAgent) kill(tb testing.TB) {
	tb.Helper()
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		tb.Fatal(err)
	}
	<-a.exited
}

// stop asks the agent to stop, then kills it if it does not.
func (a *childAgent) stop() {
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.exited:
	case <-time.After(10 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.exited
	}
}

// agentTestbed writes a site "s" with a cluster "agents" of one node per
// agent address, named n1, n2, …
func agentTestbed(tb testing.TB, addrs []string) string {
	tb.Helper()
	var agents, nodes strings.Builder
	for i, a := range addrs {
		fmt.Fprintf(&agents, "        %q = %q\n", fmt.Sprintf("n%d", i+1), a)
		fmt.Fprintf(&nodes, `    node %q {
      properties {
        cores   = 2
        memory  = "1GiB"
        disk    = "1GB"
        network = "1Gbps"
      }
    }
`, fmt.Sprintf("n%d", i+1))
	}
	src := fmt.Sprintf("site \"s\" {\n  cluster \"agents\" {\n    driver \"agent\" {\n      agents = {\n%s      }\n    }\n%s  }\n}\n", agents.String(), nodes.String())
	f := filepath.Join(tb.TempDir(), "agents.hcl")
	if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
		tb.Fatal(err)
	}
	return f
}

// archiveServer serves environment archives. While held, every download
// stops half way and waits for release; arrived hears each such download,
// and aborted each one its client gave up before the release.
type archiveServer struct {
	*httptest.Server
	mu      sync.Mutex
	files   map[string][]byte
	release chan struct{} // nil: not held
	arrived chan string
	aborted chan string
}

func newArchiveServer(t *testing.T) *archiveServer {
	s := &archiveServer{files: map[string][]byte{}, arrived: make(chan string, 100), aborted: make(chan string, 100)}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() { s.open(); s.Close() })
	return s
}

func (s *archiveServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	b, ok := s.files[r.URL.Path]
	release := s.release
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	half := len(b) / 2
	if release != nil {
		if _, err := w.Write(b[:half]); err != nil {
			return
		}
		w.(http.Flusher).Flush()
		s.arrived <- r.RemoteAddr
		select {
		case <-release:
		case <-r.Context().Done():
			s.aborted <- r.RemoteAddr
			return
		}
	} else {
		half = 0
	}
	_, _ = w.Write(b[half:])
}

// add serves the file at path and returns its URL.
func (s *archiveServer) add(t *testing.T, path, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.files[path] = b
	s.mu.Unlock()
	return s.URL + path
}

// hold makes the next downloads stop half way.
func (s *archiveServer) hold() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.release == nil {
		s.release = make(chan struct{})
	}
}

// open lets the held downloads finish and the next ones run through.
func (s *archiveServer) open() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.release != nil {
		close(s.release)
		s.release = nil
	}
}

// waitArrivals waits until n downloads are held half way.
func (s *archiveServer) waitArrivals(t *testing.T, n int, within time.Duration) {
	t.Helper()
	waitN(t, s.arrived, n, within, "downloads reached the archive server")
}

// waitAborted waits until the clients of n held downloads gave up.
func (s *archiveServer) waitAborted(t *testing.T, n int, within time.Duration) {
	t.Helper()
	waitN(t, s.aborted, n, within, "held downloads were given up")
}

func waitN(t *testing.T, ch <-chan string, n int, within time.Duration, what string) {
	t.Helper()
	timeout := time.After(within)
	for i := range n {
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("%d of %d %s within %s", i, n, what, within)
		}
	}
}

// packedEnv is an archive made by `gridflow env pack` and registered in the
// catalog.
type packedEnv struct {
	ref, url, checksum string
	// marker is the content of etc/gridflow-env in its tree.
	marker string
}

// packAndRegister packs a system tree (with marker in etc/gridflow-env) with
// `gridflow env pack`, checks the printed checksum against the file's bytes,
// serves it and registers it as ref through the CLI.
func packAndRegister(t *testing.T, s *archiveServer, api, ref, marker string) packedEnv {
	t.Helper()
	dir := envTree(t)
	if err := os.WriteFile(filepath.Join(dir, "etc", "gridflow-env"), []byte(marker+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), strings.ReplaceAll(ref, "@", "-")+".tar.gz")
	url := s.URL + "/images/" + filepath.Base(file)
	out, err := envCLI(t, "env", "pack", dir, "-o", file, "--register", ref, "--url", url, "--os", "debian12",
		"--api", api, "--token", deployAdminToken)
	if err != nil || !strings.Contains(out, "registered "+ref) {
		t.Fatalf("env pack --register %s: %v\n%s", ref, err, out)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	e := packedEnv{ref: ref, url: s.add(t, "/images/"+filepath.Base(file), file), checksum: "sha256:" + hex.EncodeToString(sum[:]), marker: marker}
	if got := packedField(t, out, "checksum"); got != e.checksum {
		t.Fatalf("env pack printed %s, the archive has %s", got, e.checksum)
	}
	return e
}

// agentNodes is the agents of a test, their nodes n1, n2, … and a client
// that asks them directly.
type agentNodes struct {
	agents []*childAgent
	nodes  []string
	client *agentclient.Client
}

func startAgentNodes(t *testing.T, n int) agentNodes {
	t.Helper()
	var an agentNodes
	addrs := map[string]string{}
	for i, addr := range loopbackAddrs(t, n) {
		an.agents = append(an.agents, startChildAgent(t, addr, t.TempDir()))
		node := fmt.Sprintf("n%d", i+1)
		an.nodes = append(an.nodes, node)
		addrs[node] = addr
	}
	c, err := agentclient.New(addrs, agentclient.Options{Token: deployAgentToken, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	an.client = c
	return an
}

func (an agentNodes) addrs() []string {
	var out []string
	for _, a := range an.agents {
		out = append(out, a.addr)
	}
	return out
}

// info asks a node's agent itself what it runs.
func (an agentNodes) info(t *testing.T, node string) hw.NodeInfo {
	t.Helper()
	i, err := an.client.Info(context.Background(), node)
	if err != nil {
		t.Fatalf("agent of %s: %v", node, err)
	}
	return i
}

// runs checks that a node's agent reports env, booted after generation
// since, and has env's tree unpacked.
func (an agentNodes) runs(t *testing.T, node string, env packedEnv, since int64) hw.NodeInfo {
	t.Helper()
	i := an.info(t, node)
	if i.Environment == nil || i.Environment.Name != env.ref || i.Environment.Checksum != env.checksum || i.Generation <= since {
		t.Fatalf("agent of %s reports %+v at generation %d, want %s (%s) after generation %d", node, i.Environment, i.Generation, env.ref, env.checksum, since)
	}
	idx := 0
	fmt.Sscanf(node, "n%d", &idx)
	b, err := os.ReadFile(filepath.Join(an.agents[idx-1].dir, "envs", env.ref, "etc", "gridflow-env"))
	if err != nil || strings.TrimSpace(string(b)) != env.marker {
		t.Fatalf("agent of %s unpacked etc/gridflow-env = %q (%v), want %q", node, b, err, env.marker)
	}
	return i
}

func (an agentNodes) generations(t *testing.T) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, n := range an.nodes {
		out[n] = an.info(t, n).Generation
	}
	return out
}

// reserveAgents reserves every agent node for deployments.
func reserveAgents(t *testing.T, admin apiClient, n int) resv {
	t.Helper()
	code, r := admin.reserve(map[string]any{"nodes": n, "cluster": "agents", "walltime": "1h", "types": []string{"deploy"}})
	if code != 201 {
		t.Fatalf("reserve the agent nodes = %d %+v", code, r)
	}
	return admin.waitState(r.UID, "running", 60*time.Second)
}

// allAt waits until every node of a deployment is processing step.
func allAt(admin apiClient, id, step string, n int) dep {
	return admin.waitDeployment(id, 60*time.Second, func(d dep) bool {
		if d.State != store.DeployProcessing || len(d.Nodes) != n {
			return false
		}
		for _, x := range d.Nodes {
			if x.State != store.NodeProcessing || x.Step != step {
				return false
			}
		}
		return true
	})
}

// TestDeploymentOnFourRealAgents deploys a packed environment on four real
// agents; then an image with a wrong checksum, then images that cannot be
// downloaded; then a deployment canceled while the nodes write, which
// leaves them as they were; then an environment during whose write one
// agent is killed, and the retry of its node once it is back.
func TestDeploymentOnFourRealAgents(t *testing.T) {
	store.BcryptCost = bcrypt.MinCost
	an := startAgentNodes(t, 4)
	s := newArchiveServer(t)
	d := startDev(t, t.TempDir(), "--testbed", agentTestbed(t, an.addrs()), "--admin-token", deployAdminToken, "--agent-token", deployAgentToken)
	defer d.stop(t)
	admin := apiClient{t: t, base: "http://" + d.api, token: deployAdminToken}
	envA := packAndRegister(t, s, admin.base, "agents-debian@1", "A")
	envB := packAndRegister(t, s, admin.base, "agents-debian@2", "B")
	r := reserveAgents(t, admin, 4)
	before := an.generations(t)

	if !t.Run("all four OK", func(t *testing.T) {
		admin := apiClient{t: t, base: admin.base, token: admin.token}
		code, created := admin.deploy(map[string]any{"reservation": r.UID, "environment": "agents-debian@1"})
		if code != 201 {
			t.Fatalf("deploy = %d %s", code, created.Detail)
		}
		done := admin.waitDeployment(created.UID, 2*time.Minute, ended)
		if done.State != store.DeployTerminated || done.Summary["ok"] != 4 || !strings.Contains(done.Reason, "4 of 4 nodes OK") {
			t.Fatalf("deployment ended %s %q %v", done.State, done.Reason, done.Summary)
		}
		for _, node := range an.nodes {
			n := done.node(t, node)
			if n.State != store.NodeOK || n.Step != store.StepCheck || n.Reason != "" || n.Attempts != 1 || n.Run != 1 || len(n.Timings) != 5 {
				t.Fatalf("node %+v", n)
			}
			an.runs(t, node, envA, before[node])
		}
	}) {
		return
	}

	if !t.Run("wrong checksum caught at verify", func(t *testing.T) {
		admin := apiClient{t: t, base: admin.base, token: admin.token}
		gens := an.generations(t)
		wrong := "sha256:" + strings.Repeat("0e", 32)
		code, created := admin.deploy(map[string]any{"reservation": r.UID, "environment": "agents-bad@1",
			"image": map[string]any{"url": envB.url, "checksum": wrong}})
		if code != 201 {
			t.Fatalf("deploy = %d %s", code, created.Detail)
		}
		done := admin.waitDeployment(created.UID, 2*time.Minute, ended)
		if done.State != store.DeployTerminated || done.Summary["ko"] != 4 || !strings.Contains(done.Reason, "0 of 4 nodes OK") {
			t.Fatalf("deployment ended %s %q %v", done.State, done.Reason, done.Summary)
		}
		t.Logf("n1: KO at %s: %s", done.node(t, "n1").Step, done.node(t, "n1").Reason)
		for _, node := range an.nodes {
			n := done.node(t, node)
			if n.State != store.NodeKO || n.Step != store.StepVerify || !strings.Contains(n.Reason, wrong) || !strings.Contains(n.Reason, envB.checksum) {
				t.Fatalf("node %s: %s at %s: %q, want KO at verify naming %s and %s", node, n.State, n.Step, n.Reason, wrong, envB.checksum)
			}
			// Nothing was installed: the node still runs A, not rebooted.
			if i := an.runs(t, node, envA, 0); i.Generation != gens[node] {
				t.Fatalf("node %s rebooted (generation %d → %d) for an image that failed its checksum", node, gens[node], i.Generation)
			}
		}
	}) {
		return
	}

	if !t.Run("unreachable or missing image", func(t *testing.T) {
		admin := apiClient{t: t, base: admin.base, token: admin.token}
		gens := an.generations(t)
		closed := "http://" + freeAddr(t) + "/images/gone.tar.gz" // nothing listens there
		for _, c := range []struct {
			url, node string
			attempts  int
			want      []string
		}{
			// The server does not answer: tried again, then KO.
			{closed, "n1", 3, []string{closed, "connection refused", "after 3 tries"}},
			// The server says there is no such image: no use trying again.
			{s.URL + "/images/missing.tar.gz", "n2", 1, []string{"/images/missing.tar.gz", "404"}},
		} {
			code, created := admin.deploy(map[string]any{"reservation": r.UID, "nodes": []string{c.node}, "environment": "agents-gone@1",
				"image": map[string]any{"url": c.url, "checksum": envB.checksum}})
			if code != 201 {
				t.Fatalf("deploy = %d %s", code, created.Detail)
			}
			done := admin.waitDeployment(created.UID, 2*time.Minute, ended)
			n := done.node(t, c.node)
			if done.State != store.DeployTerminated || len(done.Nodes) != 1 || n.State != store.NodeKO || n.Step != store.StepWrite || n.Attempts != c.attempts {
				t.Fatalf("image at %s: %s %+v, want the node KO at write after %d tries", c.url, done.State, done.Nodes, c.attempts)
			}
			t.Logf("%s: KO at %s after %d tries: %s", c.node, n.Step, n.Attempts, n.Reason)
			for _, w := range c.want {
				if !strings.Contains(n.Reason, w) {
					t.Fatalf("image at %s: reason %q does not say %q", c.url, n.Reason, w)
				}
			}
			if i := an.runs(t, c.node, envA, 0); i.Generation != gens[c.node] {
				t.Fatalf("node %s rebooted (generation %d → %d) without an image", c.node, gens[c.node], i.Generation)
			}
		}
	}) {
		return
	}

	if !t.Run("canceled during write image", func(t *testing.T) {
		admin := apiClient{t: t, base: admin.base, token: admin.token}
		gens := an.generations(t)
		s.hold()
		defer s.open()
		code, created := admin.deploy(map[string]any{"reservation": r.UID, "environment": "agents-debian@2"})
		if code != 201 {
			t.Fatalf("deploy = %d %s", code, created.Detail)
		}
		s.waitArrivals(t, 4, 60*time.Second)
		allAt(admin, created.UID, store.StepWrite, 4)
		t0 := time.Now()
		if code := admin.do("DELETE", "/v1/sites/s/deployments/"+created.UID, nil, nil); code != 202 {
			t.Fatalf("cancel = %d", code)
		}
		// The downloads stay held: the cancel must reach the agents, which
		// give them up, and the deployment end without them.
		done := admin.waitDeployment(created.UID, 2*time.Minute, ended)
		s.waitAborted(t, 4, 60*time.Second)
		// How long the nodes went on writing: the activities hear of the
		// cancel with the answer to a heartbeat.
		t.Logf("canceled: every agent gave up its download %s after the DELETE", time.Since(t0).Round(time.Millisecond))
		if done.State != store.DeployCanceled || done.Summary["ko"] != 4 {
			t.Fatalf("deployment ended %s %q %v", done.State, done.Reason, done.Summary)
		}
		for _, node := range an.nodes {
			if n := done.node(t, node); n.State != store.NodeKO || !strings.Contains(n.Reason, "canceled") {
				t.Fatalf("node %+v, want KO, canceled", n)
			}
		}
		s.open()
		for _, node := range an.nodes {
			if i := an.runs(t, node, envA, 0); i.Generation != gens[node] {
				t.Fatalf("node %s rebooted (generation %d → %d) for a canceled deployment", node, gens[node], i.Generation)
			}
		}
	}) {
		return
	}

	t.Run("agent killed during write image", func(t *testing.T) {
		admin := apiClient{t: t, base: admin.base, token: admin.token}
		gens := an.generations(t)
		s.hold()
		code, created := admin.deploy(map[string]any{"reservation": r.UID, "environment": "agents-debian@2"})
		if code != 201 {
			s.open()
			t.Fatalf("deploy = %d %s", code, created.Detail)
		}
		// Every agent is half way through the download: every node is
		// writing its image. n4's agent dies there.
		s.waitArrivals(t, 4, 60*time.Second)
		allAt(admin, created.UID, store.StepWrite, 4)
		killed := an.agents[3]
		killed.kill(t)
		s.open()

		done := admin.waitDeployment(created.UID, 2*time.Minute, ended)
		if done.State != store.DeployTerminated || done.Summary["ok"] != 3 || done.Summary["ko"] != 1 ||
			!strings.Contains(done.Reason, "3 of 4 nodes OK") || !strings.Contains(done.Reason, "n4 at write") {
			t.Fatalf("deployment ended %s %q %v", done.State, done.Reason, done.Summary)
		}
		ko := done.node(t, "n4")
		t.Logf("n4: KO at %s after %d tries: %s", ko.Step, ko.Attempts, ko.Reason)
		if ko.State != store.NodeKO || ko.Step != store.StepWrite || !strings.Contains(ko.Reason, "unreachable") ||
			!strings.Contains(ko.Reason, killed.addr) || !strings.Contains(ko.Reason, "after 3 tries") || ko.Attempts != 3 {
			t.Fatalf("killed node: %+v, want KO at write, its agent %s unreachable after 3 tries", ko, killed.addr)
		}
		for _, node := range an.nodes[:3] {
			if n := done.node(t, node); n.State != store.NodeOK || n.Step != store.StepCheck || n.Run != 1 || n.Attempts != 1 {
				t.Fatalf("node %+v", n)
			}
			an.runs(t, node, envB, gens[node])
		}

		// The agent comes back with what it had: A, B never written.
		an.agents[3] = startChildAgent(t, killed.addr, killed.dir)
		an.runs(t, "n4", envA, 0)
		okGens := an.generations(t)
		var retried dep
		if code, _ := admin.post("/v1/sites/s/deployments/"+created.UID+"/retry", nil, &retried); code != 202 || retried.Run != 2 {
			t.Fatalf("retry = %d %+v", code, retried)
		}
		again := admin.waitDeployment(created.UID, 2*time.Minute, func(d dep) bool { return d.Run == 2 && ended(d) })
		if again.State != store.DeployTerminated || again.Summary["ok"] != 4 || !strings.Contains(again.Reason, "run 2: 1 of 1 nodes OK") {
			t.Fatalf("after retry: %s %q %v", again.State, again.Reason, again.Summary)
		}
		if n := again.node(t, "n4"); n.State != store.NodeOK || n.Step != store.StepCheck || n.Reason != "" || n.Run != 2 || n.Attempts != 4 {
			t.Fatalf("retried node %+v, want OK in run 2 after 4 image writes", n)
		}
		an.runs(t, "n4", envB, okGens["n4"])
		// The others were left alone: their run-1 results, and their agents
		// neither wrote nor rebooted again.
		for _, node := range an.nodes[:3] {
			n := again.node(t, node)
			if n.State != store.NodeOK || n.Run != 1 || n.Attempts != 1 {
				t.Fatalf("untouched node %+v", n)
			}
			if i := an.runs(t, node, envB, 0); i.Generation != okGens[node] {
				t.Fatalf("node %s rebooted during the retry of n4 (generation %d → %d)", node, okGens[node], i.Generation)
			}
		}
	})
}

// startChildDevOn runs `gridflow dev` in a child process (this test binary,
// see TestChildDev) on dataDir with its API on api and the agents' testbed,
// so that it can be stopped or killed and started again on the same data.
func startChildDevOn(t *testing.T, dataDir, api, testbed string) *childDev {
	t.Helper()
	args := []string{"--data-dir", dataDir, "--listen", api, "--ui-listen", freeAddr(t), "--temporal-listen", freeAddr(t),
		"--testbed", testbed, "--admin-token", deployAdminToken, "--agent-token", deployAgentToken, "--log-level", "warn"}
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildDev$", "-test.timeout=30m")
	cmd.Env = append(os.Environ(), "GRIDFLOW_TEST_CHILD_DEV="+strings.Join(args, "\x1f"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &childDev{cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(d.exited) }()
	deadline := time.Now().Add(120 * time.Second)
	for {
		if res, err := http.Get("http://" + api + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return d
			}
		}
		select {
		case <-d.exited:
			t.Fatalf("child gridflow dev exited during start: %v", cmd.ProcessState)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.stop()
			t.Fatal("child gridflow dev not ready after 120s")
		}
	}
}

// stop stops the child as Ctrl-C does, and kills it if it does not stop.
func (d *childDev) stop() {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(60 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
	}
}

// childDev is gridflow dev in a child process.
type childDev struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

// nodeOutcome is what a deployment's result says of a node, less how many
// tries it took.
type nodeOutcome struct {
	State, Step, Reason string
	Run                 int
}

func outcomes(d dep) map[string]nodeOutcome {
	out := map[string]nodeOutcome{}
	for _, n := range d.Nodes {
		out[n.Node] = nodeOutcome{n.State, n.Step, n.Reason, n.Run}
	}
	return out
}

// TestDeploymentOnRealAgentsSurvivesDevRestart deploys on four real agents
// once without interruption, then stops the dev role while every node is
// writing its image — gracefully (SIGTERM, as Ctrl-C) and then with
// SIGKILL — and starts it again on the same data dir: each deployment ends
// with the per-node results of the uninterrupted one, and the agents run the
// new environment.
func TestDeploymentOnRealAgentsSurvivesDevRestart(t *testing.T) {
	an := startAgentNodes(t, 4)
	s := newArchiveServer(t)
	tbFile := agentTestbed(t, an.addrs())
	dataDir, api := t.TempDir(), freeAddr(t)
	dev := startChildDevOn(t, dataDir, api, tbFile)
	defer func() { dev.stop() }() // the dev running at the end
	admin := apiClient{t: t, base: "http://" + api, token: deployAdminToken}
	envs := []packedEnv{packAndRegister(t, s, admin.base, "agents-debian@1", "A"), packAndRegister(t, s, admin.base, "agents-debian@2", "B")}
	r := reserveAgents(t, admin, 4)

	code, created := admin.deploy(map[string]any{"reservation": r.UID, "environment": envs[0].ref})
	if code != 201 {
		t.Fatalf("deploy = %d %s", code, created.Detail)
	}
	base := admin.waitDeployment(created.UID, 2*time.Minute, ended)
	want := outcomes(base)
	if base.State != store.DeployTerminated || len(want) != 4 || base.Summary["ok"] != 4 {
		t.Fatalf("uninterrupted deployment: %s %q %+v", base.State, base.Reason, base.Nodes)
	}

	for i, c := range []struct {
		name string
		sig  syscall.Signal
	}{{"graceful stop", syscall.SIGTERM}, {"kill -9", syscall.SIGKILL}} {
		if !t.Run(c.name, func(t *testing.T) {
			admin := apiClient{t: t, base: admin.base, token: admin.token}
			env := envs[(i+1)%2] // each time an environment the nodes do not run
			gens := an.generations(t)
			s.hold()
			code, created := admin.deploy(map[string]any{"reservation": r.UID, "environment": env.ref})
			if code != 201 {
				s.open()
				t.Fatalf("deploy = %d %s", code, created.Detail)
			}
			s.waitArrivals(t, 4, 60*time.Second)
			allAt(admin, created.UID, store.StepWrite, 4)
			t0 := time.Now()
			if err := dev.cmd.Process.Signal(c.sig); err != nil {
				t.Fatal(err)
			}
			select {
			case <-dev.exited:
			case <-time.After(60 * time.Second):
				t.Fatalf("gridflow dev did not stop within 60s of %v", c.sig)
			}
			dev = startChildDevOn(t, dataDir, api, tbFile)
			s.open()
			done := admin.waitDeployment(created.UID, 3*time.Minute, ended)
			t.Logf("ended %s after the %s, %s after the signal", done.State, c.name, time.Since(t0).Round(time.Millisecond))
			got := outcomes(done)
			for _, node := range an.nodes {
				if got[node] != want[node] {
					t.Errorf("node %s: %+v, uninterrupted %+v", node, got[node], want[node])
				}
				// The write the stop cut short, then one more by the
				// resumed activity, which skipped prepare.
				if n := done.node(t, node); n.Attempts != 2 {
					t.Errorf("node %s: %d image writes, want 2 (the one cut short, the one resumed)", node, n.Attempts)
				}
				an.runs(t, node, env, gens[node])
			}
			if done.State != base.State || done.Reason != base.Reason {
				t.Fatalf("deployment %s %q, uninterrupted %s %q", done.State, done.Reason, base.State, base.Reason)
			}
		}) {
			return
		}
	}
}
