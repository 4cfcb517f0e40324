//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/gridflow/gridflow/agent/dockerapi"
	"github.com/gridflow/gridflow/agent/dockerapi/dockertest"
)

// dockerSocket is the Docker Engine's socket, on this machine and, bind
// mounted, in the agent containers of startRuntimeTestbed.
const dockerSocket = "/var/run/docker.sock"

// startRuntimeTestbed is startTestbed with a container runtime on every
// node: the agents run with the Docker Engine's socket mounted and
// --docker-host, so that the containers they create are real containers
// of this machine's Docker Engine, beside the testbed's own. It returns
// the testbed and each node's agent id, which scopes (labels and names)
// the containers that agent creates.
//
// Whatever the agents leave on the Docker Engine is removed at cleanup (and
// logged: a test that checks for leftovers has failed by then).
func startRuntimeTestbed(t *testing.T, n int) (*testbed, map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	started := time.Now()
	nw, err := network.New(ctx)
	if err != nil {
		t.Fatalf("network: %v", err)
	}
	testcontainers.CleanupNetwork(t, nw)
	tb := &testbed{t: t, nw: nw, agents: map[string]*testcontainers.DockerContainer{},
		adminToken: "gft_e2e-admin-" + randomHex(12), agentToken: randomHex(24)}
	for i := 1; i <= n; i++ {
		tb.nodes = append(tb.nodes, fmt.Sprintf("node-%d", i))
	}
	withSocket := func(hc *container.HostConfig) {
		hostConfig(hc)
		hc.Binds = append(hc.Binds, dockerSocket+":"+dockerSocket)
	}

	type outcome struct {
		name string
		c    *testcontainers.DockerContainer
		err  error
	}
	results := make(chan outcome, n+1)
	for _, node := range tb.nodes {
		go func() {
			c, err := testcontainers.Run(ctx, image,
				network.WithNetwork([]string{node}, nw),
				testcontainers.WithCmd("agent", "--listen", "0.0.0.0:7070", "--data-dir", "/agent",
					"--token", tb.agentToken, "--docker-host", "unix://"+dockerSocket),
				testcontainers.WithExposedPorts(agentPort),
				testcontainers.WithHostConfigModifier(withSocket),
				testcontainers.WithLabels(map[string]string{"gridflow.e2e.test": t.Name(), "gridflow.e2e.role": "agent"}),
				testcontainers.WithWaitStrategy(wait.ForHTTP("/v1/info").WithPort(agentPort).
					WithHeaders(map[string]string{"Authorization": "Bearer " + tb.agentToken}).
					WithPollInterval(100*time.Millisecond).WithStartupTimeout(60*time.Second)),
			)
			results <- outcome{node, c, err}
		}()
	}
	go func() {
		c, err := testcontainers.Run(ctx, image,
			network.WithNetwork([]string{"engine"}, nw),
			testcontainers.WithCmd("dev", "--data-dir", "/data", "--listen", "0.0.0.0:8080",
				"--ui-listen", "0.0.0.0:8233", "--temporal-listen", "0.0.0.0:7233",
				"--testbed", "/testbed.hcl", "--admin-token", tb.adminToken, "--agent-token", tb.agentToken),
			testcontainers.WithFiles(testcontainers.ContainerFile{
				Reader: strings.NewReader(testbedHCL(tb.nodes)), ContainerFilePath: "/testbed.hcl", FileMode: 0o644}),
			testcontainers.WithExposedPorts(apiPort),
			testcontainers.WithHostConfigModifier(hostConfig),
			testcontainers.WithLabels(map[string]string{"gridflow.e2e.test": t.Name(), "gridflow.e2e.role": "engine"}),
			testcontainers.WithWaitStrategy(wait.ForHTTP("/readyz").WithPort(apiPort).
				WithPollInterval(100*time.Millisecond).WithStartupTimeout(90*time.Second)),
		)
		results <- outcome{"engine", c, err}
	}()
	var errs []string
	for range n + 1 {
		r := <-results
		if r.c != nil {
			testcontainers.CleanupContainer(t, r.c, testcontainers.StopTimeout(0))
			if r.name == "engine" {
				tb.engine = r.c
			} else {
				tb.agents[r.name] = r.c
			}
		}
		if r.err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", r.name, r.err))
		}
	}
	// Registered after the containers' cleanups, so they run before them.
	t.Cleanup(func() {
		if t.Failed() {
			tb.dumpLogs()
		}
	})
	if len(errs) > 0 {
		sort.Strings(errs)
		t.Fatalf("starting the testbed: %s", strings.Join(errs, "; "))
	}
	if err := tb.refreshBase(); err != nil {
		t.Fatal(err)
	}

	scopes := map[string]string{}
	for _, node := range tb.nodes {
		var info struct {
			AgentID    string `json:"agentId"`
			Containers bool   `json:"containers"`
		}
		code, raw, err := tb.agentGet(node, "/v1/info", &info)
		if err != nil || code != 200 || info.AgentID == "" {
			t.Fatalf("agent %s: GET /v1/info = %d %v %s", node, code, err, short(string(raw), 300))
		}
		if !info.Containers {
			t.Fatalf("agent %s runs without a container runtime although started with --docker-host and %s mounted: %s", node, dockerSocket, short(string(raw), 300))
		}
		scopes[node] = info.AgentID
	}
	t.Cleanup(func() {
		for node, scope := range scopes {
			if left := removeScoped(t, scope); len(left) > 0 {
				t.Logf("removed containers the agent of %s left on the Docker Engine: %v", node, left)
			}
		}
	})
	t.Logf("testbed with a container runtime up in %s: engine at %s, agents %v (scopes %v)",
		time.Since(started).Round(time.Millisecond), tb.baseURL(), tb.nodes, scopes)
	return tb, scopes
}

// agentGet reads a node's agent directly (to observe, never to act).
func (tb *testbed) agentGet(node, path string, out any) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ep, err := tb.agents[node].PortEndpoint(ctx, agentPort, "http")
	if err != nil {
		return 0, nil, err
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", ep+path, nil)
	req.Header.Set("Authorization", "Bearer "+tb.agentToken)
	res, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	var raw json.RawMessage
	if err := json.NewDecoder(res.Body).Decode(&raw); err != nil {
		return res.StatusCode, raw, err
	}
	if out != nil {
		return res.StatusCode, raw, json.Unmarshal(raw, out)
	}
	return res.StatusCode, raw, nil
}

// engineContainers lists, through the Docker Engine itself, the containers
// an agent's scope holds: id → state.
func engineContainers(t *testing.T, scope string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dc, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	defer dc.Close()
	res, err := dc.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: client.Filters{}.Add("label", dockerapi.LabelScope+"="+scope)})
	if err != nil {
		t.Fatalf("listing the Docker Engine's containers of scope %s: %v", scope, err)
	}
	out := map[string]string{}
	for _, c := range res.Items {
		out[c.Labels[dockerapi.LabelID]] = string(c.State)
	}
	return out
}

// removeScoped removes every container of an agent's scope from the Docker
// Engine and returns their names.
func removeScoped(t *testing.T, scope string) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dc, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		t.Logf("docker client: %v", err)
		return nil
	}
	defer dc.Close()
	res, err := dc.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: client.Filters{}.Add("label", dockerapi.LabelScope+"="+scope)})
	if err != nil {
		t.Logf("listing the containers of scope %s: %v", scope, err)
		return nil
	}
	var names []string
	for _, c := range res.Items {
		names = append(names, strings.Join(c.Names, ","))
		if _, err := dc.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			t.Logf("removing %v: %v", c.Names, err)
		}
	}
	return names
}

type ctrItem struct {
	UID         string            `json:"uid"`
	Node        string            `json:"node"`
	Hostname    string            `json:"hostname"`
	Image       string            `json:"image"`
	Env         map[string]string `json:"env"`
	Status      string            `json:"status"`
	Reservation string            `json:"reservation"`
}

type jobItem struct {
	ID       string `json:"id"`
	State    string `json:"state"`
	ExitCode *int   `json:"exitCode"`
	Output   *struct {
		Stdout     string `json:"stdout"`
		Stderr     string `json:"stderr"`
		StdoutSize int64  `json:"stdoutSize"`
	} `json:"output"`
	Detail string `json:"detail"`
}

func (j jobItem) String() string {
	code := "?"
	if j.ExitCode != nil {
		code = fmt.Sprint(*j.ExitCode)
	}
	s := fmt.Sprintf("job %s %s exit=%s", j.ID, j.State, code)
	if j.Output != nil {
		s += fmt.Sprintf(" stdout=%q stderr=%q", short(j.Output.Stdout, 200), short(j.Output.Stderr, 200))
	}
	return s
}

// waitJob polls a container job until it is no longer running.
func (tb *testbed) waitJob(path string, within time.Duration) jobItem {
	tb.t.Helper()
	var j jobItem
	eventually(tb.t, "job "+path+" ended", within, 100*time.Millisecond, func() (bool, string) {
		j = jobItem{}
		code, raw, err := tb.call("GET", path, nil, &j)
		if err != nil || code != 200 {
			return false, fmt.Sprintf("%d %v %s", code, err, short(string(raw), 200))
		}
		return j.State != "running" && j.State != "", j.String()
	})
	return j
}

// TestContainersThroughREST: the engine (a container) drives an agent (a
// container with the Docker Engine's socket) through the REST API as a user
// with a reservation would: it creates a container on the reserved node,
// runs jobs in it and reads their output and exit codes, lists its
// processes, deletes it; and a container left running is removed when the
// reservation ends. Every step is checked against the Docker Engine itself,
// not only against what the API answers.
func TestContainersThroughREST(t *testing.T) {
	workload := dockertest.BusyboxImage(t, dockertest.Host(t))
	tb, scopes := startRuntimeTestbed(t, 1)
	node := tb.nodes[0]
	scope := scopes[node]
	ctrs := "/v1/nodes/" + node + "/containers"

	// Bad input answered before any reservation: an unknown node is 404.
	var prob struct {
		Detail string `json:"detail"`
	}
	tb.must("POST", "/v1/nodes/nowhere-9/containers", map[string]any{"image": workload}, &prob, 404)
	record(t, sectionHostile, "container on an unknown node", "404: %s", short(prob.Detail, 80))

	var r reservation
	tb.must("POST", "/v1/sites/"+site+"/reservations", map[string]any{"nodes": 1, "cluster": cluster, "walltime": "30m", "name": "containers"}, &r, 201)
	uid := r.UID
	eventually(t, "reservation "+uid+" running", time.Minute, 200*time.Millisecond, func() (bool, string) {
		r = reservation{}
		tb.must("GET", "/v1/sites/"+site+"/reservations/"+uid, nil, &r, 200)
		return r.State == "running", r.State + " " + r.Reason
	})
	if len(r.Nodes) != 1 || r.Nodes[0] != node {
		t.Fatalf("reservation %s got %v, want [%s]", r.UID, r.Nodes, node)
	}

	// An image the node's runtime lacks: 422 naming it, nothing created.
	prob.Detail = ""
	tb.must("POST", ctrs, map[string]any{"id": "noimage", "image": "gridflow-e2e-absent:nope"}, &prob, 422)
	if !strings.Contains(prob.Detail, "gridflow-e2e-absent:nope") {
		t.Errorf("an absent image's 422 does not name it: %q", prob.Detail)
	}
	if left := engineContainers(t, scope); len(left) != 0 {
		t.Errorf("a refused create left containers on the Docker Engine: %v", left)
	}
	record(t, sectionHostile, "container of an image the node lacks", "422 naming it, nothing created: %s", short(prob.Detail, 80))

	// Create: the container runs on this machine's Docker Engine, tagged
	// with the reservation.
	t0 := time.Now()
	var c ctrItem
	tb.must("POST", ctrs, map[string]any{
		"id": "box", "hostname": "box-e2e", "image": workload, "env": map[string]string{"WHO": "gridflow"},
		"cmd": []string{"/bin/sh", "-c", `trap "exit 0" TERM; while :; do sleep 1 & wait; done`},
	}, &c, 201)
	createdIn := time.Since(t0)
	if c.UID != "box" || c.Status != "running" || c.Reservation != r.UID || c.Image != workload || c.Node != node {
		t.Fatalf("created container %+v: want box running on %s, image %s, reservation %s", c, node, workload, r.UID)
	}
	if got := engineContainers(t, scope); got["box"] != "running" {
		t.Fatalf("the Docker Engine has %v for the agent's scope, want box running", got)
	}
	// The same id and image again: the same container, not a second one.
	var again ctrItem
	tb.must("POST", ctrs, map[string]any{"id": "box", "image": workload, "hostname": "box-e2e",
		"env": map[string]string{"WHO": "gridflow"}, "cmd": []string{"/bin/sh", "-c", `trap "exit 0" TERM; while :; do sleep 1 & wait; done`}}, &again, 201, 200)
	if got := engineContainers(t, scope); len(got) != 1 || again.UID != "box" {
		t.Fatalf("creating box again: %+v; the Docker Engine has %v, want box alone", again, got)
	}

	// A job: its output, its error stream and its exit code come back.
	t1 := time.Now()
	var j jobItem
	tb.must("POST", ctrs+"/box/jobs", map[string]any{"id": "hello", "name": "/bin/sh",
		"args": []string{"-c", `echo "hello $WHO from $(hostname)"; echo to-stderr >&2; exit 3`}}, &j, 201)
	j = tb.waitJob(ctrs+"/box/jobs/hello", time.Minute)
	jobIn := time.Since(t1)
	if j.State != "exited" || j.ExitCode == nil || *j.ExitCode != 3 || j.Output == nil ||
		strings.TrimSpace(j.Output.Stdout) != "hello gridflow from box-e2e" || strings.TrimSpace(j.Output.Stderr) != "to-stderr" {
		t.Fatalf("job hello: %s; want exited 3 with stdout %q and stderr %q", j, "hello gridflow from box-e2e", "to-stderr")
	}

	// A command that does not exist: the job fails and says why.
	tb.must("POST", ctrs+"/box/jobs", map[string]any{"id": "missing", "name": "no-such-command-e2e"}, &j, 201)
	j = tb.waitJob(ctrs+"/box/jobs/missing", time.Minute)
	if j.ExitCode == nil || *j.ExitCode == 0 || j.Output == nil || !strings.Contains(j.Output.Stderr, "no-such-command-e2e") {
		t.Fatalf("job of a missing command: %s; want a non-zero exit and the reason on stderr", j)
	}
	record(t, sectionHostile, "job of a command that does not exist", "exit %d, stderr %q", *j.ExitCode, short(j.Output.Stderr, 60))

	// A long job shows in the container's processes, and a kill ends it.
	tb.must("POST", ctrs+"/box/jobs", map[string]any{"id": "long", "name": "sleep", "args": []string{"300"}}, &j, 201)
	eventually(t, "sleep 300 among the container's processes", 30*time.Second, 200*time.Millisecond, func() (bool, string) {
		var ps struct {
			Items []struct {
				PID     int    `json:"pid"`
				Cmdline string `json:"cmdline"`
			} `json:"items"`
		}
		code, raw, err := tb.call("GET", ctrs+"/box/processes", nil, &ps)
		if err != nil || code != 200 {
			return false, fmt.Sprintf("%d %v %s", code, err, short(string(raw), 200))
		}
		var seen []string
		for _, p := range ps.Items {
			if strings.Contains(p.Cmdline, "sleep 300") && p.PID > 0 {
				return true, ""
			}
			seen = append(seen, p.Cmdline)
		}
		return false, fmt.Sprint(seen)
	})
	tb.must("DELETE", ctrs+"/box/jobs/long", nil, &j, 200)
	j = tb.waitJob(ctrs+"/box/jobs/long", 30*time.Second)
	if j.State == "running" || (j.ExitCode != nil && *j.ExitCode == 0) {
		t.Fatalf("killed job: %s; want it ended by the kill", j)
	}
	var jobs struct {
		Items []jobItem `json:"items"`
		Total int       `json:"total"`
	}
	tb.must("GET", ctrs+"/box/jobs", nil, &jobs, 200)
	if jobs.Total != 3 {
		t.Errorf("the container lists %d jobs (%v), want hello, missing and long", jobs.Total, jobs.Items)
	}

	// Delete: gone from the API and from the Docker Engine.
	t2 := time.Now()
	tb.must("DELETE", ctrs+"/box", nil, nil, 204)
	deletedIn := time.Since(t2)
	tb.must("GET", ctrs+"/box", nil, nil, 404)
	if got := engineContainers(t, scope); len(got) != 0 {
		t.Fatalf("after DELETE the Docker Engine still has %v", got)
	}
	record(t, sectionLoad, "container lifecycle through REST → agent → Docker",
		"create %s, job to its output %s, delete %s", createdIn.Round(time.Millisecond), jobIn.Round(time.Millisecond), deletedIn.Round(time.Millisecond))

	// A container still running when its reservation ends is removed.
	tb.must("POST", ctrs, map[string]any{"id": "leftover", "image": workload,
		"cmd": []string{"/bin/sh", "-c", `trap "exit 0" TERM; while :; do sleep 1 & wait; done`}}, &c, 201)
	if got := engineContainers(t, scope); got["leftover"] != "running" {
		t.Fatalf("the Docker Engine has %v, want leftover running", got)
	}
	tb.must("DELETE", "/v1/sites/"+site+"/reservations/"+r.UID, nil, nil, 202, 204, 200)
	tb.waitReservationEnded(r.UID, time.Minute)
	var left map[string]string
	eventually(t, "the reservation's container removed", time.Minute, 250*time.Millisecond, func() (bool, string) {
		left = engineContainers(t, scope)
		return len(left) == 0, fmt.Sprint(left)
	})
	record(t, sectionInvariant, "containers end with their reservation and leave nothing on the Docker Engine",
		"reservation %s ended; containers of the agent's scope on the engine: %d", r.UID, len(left))
}

type nodeProcess struct {
	ID       string `json:"id"`
	State    string `json:"state"`
	ExitCode *int   `json:"exitCode"`
	Output   *struct {
		Stdout []byte `json:"stdout"`
		Stderr []byte `json:"stderr"`
	} `json:"output"`
}

// runOnNode runs a shell command on a node (in its agent's file area)
// through the REST API and returns its standard output.
func (tb *testbed) runOnNode(node, script string) string {
	tb.t.Helper()
	var p nodeProcess
	tb.must("POST", "/v1/nodes/"+node+"/processes", map[string]any{"name": "/bin/sh", "args": []string{"-c", script}}, &p, 201)
	id := p.ID
	eventually(tb.t, fmt.Sprintf("%q on %s", script, node), time.Minute, 100*time.Millisecond, func() (bool, string) {
		p = nodeProcess{}
		code, raw, err := tb.call("GET", "/v1/nodes/"+node+"/processes/"+id, nil, &p)
		return err == nil && code == 200 && p.State != "running", fmt.Sprintf("%d %v %s", code, err, short(string(raw), 200))
	})
	if p.ExitCode == nil || *p.ExitCode != 0 || p.Output == nil {
		tb.t.Fatalf("%q on %s: %+v", script, node, p)
	}
	return string(p.Output.Stdout)
}

// TestNodeToNodeTransferInContainers copies a file between two agent
// containers through the transfer API (node://node-1 → node://node-2, the
// user's sha256 verified at both ends); the agents reach each other by
// their network aliases, as the engine names them. The bytes on node-2
// hash, there, to the sum node-1 computed.
func TestNodeToNodeTransferInContainers(t *testing.T) {
	tb := startTestbed(t, 2)
	const size = 32 << 20
	sumOf := func(out, name string) string {
		f := strings.Fields(out)
		if len(f) != 2 || len(f[0]) != 64 || f[1] != name {
			t.Fatalf("sha256sum said %q", out)
		}
		return f[0]
	}
	want := sumOf(tb.runOnNode("node-1", fmt.Sprintf("head -c %d /dev/urandom > data.bin && sha256sum data.bin", size)), "data.bin")

	var j struct {
		JobID    string `json:"job_id"`
		JobState string `json:"job_state"`
		Reason   string `json:"reason"`
		Files    []struct {
			FileState      string  `json:"file_state"`
			Reason         string  `json:"reason"`
			SourceChecksum string  `json:"source_checksum"`
			DestChecksum   string  `json:"dest_checksum"`
			Filesize       int64   `json:"filesize"`
			Throughput     float64 `json:"throughput"`
		} `json:"files"`
	}
	tb.must("POST", "/v1/transfers", map[string]any{
		"files": []map[string]any{{"sources": []string{"node://node-1/data.bin"}, "destinations": []string{"node://node-2/in/copy.bin"},
			"checksum": "sha256:" + want, "filesize": size}},
		"params": map[string]any{"verify_checksum": "both"},
	}, &j, 201)
	id := j.JobID
	final := map[string]bool{"FINISHED": true, "FINISHEDDIRTY": true, "FAILED": true, "CANCELED": true}
	eventually(t, "transfer "+id+" final", 2*time.Minute, 250*time.Millisecond, func() (bool, string) {
		code, raw, err := tb.call("GET", "/v1/transfers/"+id, nil, &j)
		return err == nil && code == 200 && final[j.JobState], fmt.Sprintf("%d %v %s", code, err, short(string(raw), 300))
	})
	if j.JobState != "FINISHED" || len(j.Files) != 1 || j.Files[0].DestChecksum != "sha256:"+want || j.Files[0].SourceChecksum != "sha256:"+want || j.Files[0].Filesize != size {
		t.Fatalf("transfer %s: %s %s %+v; want FINISHED with sha256:%s at both ends", id, j.JobState, j.Reason, j.Files, want)
	}
	if got := sumOf(tb.runOnNode("node-2", "sha256sum in/copy.bin"), "in/copy.bin"); got != want {
		t.Fatalf("node-2 holds sha256:%s, node-1 sent sha256:%s", got, want)
	}
	// The bytes went from agent to agent (a third-party copy), not
	// through the engine: node-2's agent says it fetched them from node-1.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rc, err := tb.agents["node-2"].Logs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	logs, _ := io.ReadAll(rc)
	rc.Close()
	if !strings.Contains(string(logs), "fetched from another agent") || !strings.Contains(string(logs), "node-1:7070") {
		t.Fatalf("node-2's agent does not say it fetched the file from node-1 (the engine carried the bytes?):\n%s", short(string(logs), 2000))
	}
	record(t, sectionInvariant, "node → node transfer between agent containers",
		"%d MiB from agent to agent (third-party copy), sha256 verified by both agents and re-hashed on node-2, %.0f MiB/s", size>>20, j.Files[0].Throughput/(1<<20))
}
