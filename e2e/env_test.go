//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	dockernetwork "github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
)

const (
	site      = "e2e"
	cluster   = "lab"
	apiPort   = "8080/tcp"
	agentPort = "7070/tcp"
	// temporalPort is the engine's embedded Temporal frontend (gRPC).
	temporalPort = "7233/tcp"
)

// testbed is one test's world: a private network, an engine container and
// one agent container per node, reachable from the test at 127.0.0.1.
type testbed struct {
	t          *testing.T
	nw         *testcontainers.DockerNetwork
	engine     *testcontainers.DockerContainer
	agents     map[string]*testcontainers.DockerContainer // node uid (= network alias) → container
	nodes      []string
	adminToken string
	agentToken string

	mu   sync.Mutex
	base string // http://127.0.0.1:<mapped 8080>, read again after a restart
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// testbedHCL describes one site with one agent cluster whose node i is served
// by the agent container with network alias node-i.
func testbedHCL(nodes []string) string {
	var agents []string
	for _, n := range nodes {
		agents = append(agents, fmt.Sprintf("%q = %q", n, n+":7070"))
	}
	return fmt.Sprintf(`site %q {
  description = "end-to-end tests: nodes are gridflow agent containers"
  cluster %q {
    driver "agent" {
      agents = { %s }
    }
    nodes {
      count = %d
      name  = "node-%%d"
      properties {
        cores  = 1
        memory = "1GiB"
      }
    }
  }
}
`, site, cluster, strings.Join(agents, ", "), len(nodes))
}

// hostConfig keeps every container's traffic on this machine: Docker's
// embedded DNS answers the network's aliases and forwards any other name
// (such as the alias of a stopped node) to the configured servers; with
// 127.0.0.1, inside the container where nothing listens, the lookup fails at
// once instead of leaving the machine.
// The short resolver timeout makes the lookup of a lost node's alias fail in
// about a second rather than ten.
func hostConfig(hc *container.HostConfig) {
	hc.DNS = []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	hc.DNSOptions = []string{"timeout:1", "attempts:1"}
}

// startTestbed starts the network, n agents and the engine, in parallel.
func startTestbed(t *testing.T, n int) *testbed {
	t.Helper()
	return startTestbedWith(t, n, testbedOptions{})
}

// testbedOptions change what startTestbedWith starts.
type testbedOptions struct {
	// exposeTemporal maps the engine's embedded Temporal frontend (7233) to
	// 127.0.0.1, for tests that use it as an external Temporal server.
	exposeTemporal bool
}

// startTestbedWith is startTestbed with options.
func startTestbedWith(t *testing.T, n int, opts testbedOptions) *testbed {
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

	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []string
	fail := func(what string, err error) {
		mu.Lock()
		errs = append(errs, fmt.Sprintf("%s: %v", what, err))
		mu.Unlock()
	}
	for _, node := range tb.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := testcontainers.Run(ctx, image,
				network.WithNetwork([]string{node}, nw),
				testcontainers.WithCmd("agent", "--listen", "0.0.0.0:7070", "--data-dir", "/agent", "--token", tb.agentToken),
				testcontainers.WithExposedPorts(agentPort),
				testcontainers.WithHostConfigModifier(hostConfig),
				testcontainers.WithLabels(map[string]string{"gridflow.e2e.test": t.Name(), "gridflow.e2e.role": "agent"}),
				testcontainers.WithWaitStrategy(wait.ForHTTP("/v1/info").WithPort(agentPort).
					WithHeaders(map[string]string{"Authorization": "Bearer " + tb.agentToken}).
					WithPollInterval(100*time.Millisecond).WithStartupTimeout(60*time.Second)),
			)
			mu.Lock()
			if c != nil {
				tb.agents[node] = c
			}
			mu.Unlock()
			if err != nil {
				fail("agent "+node, err)
			}
		}()
	}
	enginePorts := []string{apiPort}
	if opts.exposeTemporal {
		enginePorts = append(enginePorts, temporalPort)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := testcontainers.Run(ctx, image,
			network.WithNetwork([]string{"engine"}, nw),
			testcontainers.WithCmd("dev", "--data-dir", "/data", "--listen", "0.0.0.0:8080",
				"--ui-listen", "0.0.0.0:8233", "--temporal-listen", "0.0.0.0:7233",
				"--testbed", "/testbed.hcl", "--admin-token", tb.adminToken, "--agent-token", tb.agentToken),
			testcontainers.WithFiles(testcontainers.ContainerFile{
				Reader: strings.NewReader(testbedHCL(tb.nodes)), ContainerFilePath: "/testbed.hcl", FileMode: 0o644}),
			testcontainers.WithExposedPorts(enginePorts...),
			testcontainers.WithHostConfigModifier(hostConfig),
			testcontainers.WithLabels(map[string]string{"gridflow.e2e.test": t.Name(), "gridflow.e2e.role": "engine"}),
			testcontainers.WithWaitStrategy(wait.ForHTTP("/readyz").WithPort(apiPort).
				WithPollInterval(100*time.Millisecond).WithStartupTimeout(90*time.Second)),
		)
		mu.Lock()
		tb.engine = c
		mu.Unlock()
		if err != nil {
			fail("engine", err)
		}
	}()
	wg.Wait()

	for _, node := range tb.nodes {
		if c := tb.agents[node]; c != nil {
			testcontainers.CleanupContainer(t, c, testcontainers.StopTimeout(0))
		}
	}
	if tb.engine != nil {
		testcontainers.CleanupContainer(t, tb.engine, testcontainers.StopTimeout(0))
	}
	// Registered after the containers' cleanups, so it runs before them.
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
	t.Logf("testbed up in %s: engine at %s, agents %v", time.Since(started).Round(time.Millisecond), tb.baseURL(), tb.nodes)
	return tb
}

// refreshBase reads the engine's mapped API port, which changes when the
// container restarts.
func (tb *testbed) refreshBase() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ep, err := tb.engine.PortEndpoint(ctx, apiPort, "http")
	if err != nil {
		return fmt.Errorf("engine API port: %w", err)
	}
	tb.mu.Lock()
	tb.base = ep
	tb.mu.Unlock()
	return nil
}

func (tb *testbed) baseURL() string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.base
}

// restartEngine stops the engine container and starts it again on the same
// filesystem, waiting until it is ready. With kill, the engine gets SIGKILL
// at once (a crash: docker kill); otherwise SIGTERM and grace to stop before
// SIGKILL (docker stop, docker restart).
func (tb *testbed) restartEngine(kill bool, grace time.Duration) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	old := tb.baseURL()
	t0 := time.Now()
	if kill {
		dc, err := testcontainers.NewDockerClientWithOpts(ctx)
		if err != nil {
			tb.t.Fatalf("docker client: %v", err)
		}
		defer dc.Close()
		if _, err := dc.ContainerKill(ctx, tb.engine.GetContainerID(), client.ContainerKillOptions{Signal: "KILL"}); err != nil {
			tb.t.Fatalf("killing the engine: %v", err)
		}
		eventually(tb.t, "engine container exited", 30*time.Second, 100*time.Millisecond, func() (bool, string) {
			in, err := tb.engine.Inspect(ctx)
			if err != nil {
				return false, err.Error()
			}
			return !in.State.Running, string(in.State.Status)
		})
	} else if err := tb.engine.Stop(ctx, &grace); err != nil {
		tb.t.Fatalf("stopping the engine: %v", err)
	}
	stopped := time.Since(t0)
	// Start runs the wait strategy again (/readyz).
	if err := tb.engine.Start(ctx); err != nil {
		tb.t.Fatalf("starting the engine again: %v", err)
	}
	if err := tb.refreshBase(); err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Logf("engine restarted (kill=%v): down in %s, ready again %s later; API %s -> %s", kill,
		stopped.Round(time.Millisecond), (time.Since(t0) - stopped).Round(time.Millisecond), old, tb.baseURL())
}

// stopAgent kills a node's agent container at once, as a node lost.
func (tb *testbed) stopAgent(node string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	zero := time.Duration(0)
	if err := tb.agents[node].Stop(ctx, &zero); err != nil {
		tb.t.Fatalf("stopping agent %s: %v", node, err)
	}
}

// dockerClient is a Docker client for fault injection; closed with the test.
func dockerClient(t *testing.T) *testcontainers.DockerClient {
	t.Helper()
	dc, err := testcontainers.NewDockerClientWithOpts(context.Background())
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	t.Cleanup(func() { dc.Close() })
	return dc
}

// cutAgent takes a node's agent container off the network, the way the
// fault named by how does: "disconnect" (docker network disconnect: its
// alias no longer resolves, connections fail at once) or "pause" (docker
// pause: the kernel still accepts connections, nothing answers them).
func (tb *testbed) cutAgent(node, how string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dc := dockerClient(tb.t)
	id := tb.agents[node].GetContainerID()
	var err error
	switch how {
	case "disconnect":
		_, err = dc.NetworkDisconnect(ctx, tb.nw.ID, client.NetworkDisconnectOptions{Container: id, Force: true})
	case "pause":
		_, err = dc.ContainerPause(ctx, id, client.ContainerPauseOptions{})
	default:
		tb.t.Fatalf("cutAgent: unknown fault %q (disconnect or pause)", how)
	}
	if err != nil {
		tb.t.Fatalf("%s agent %s: %v", how, node, err)
	}
}

// healAgent undoes cutAgent: the container is back on the network under its
// alias, or running again.
func (tb *testbed) healAgent(node, how string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dc := dockerClient(tb.t)
	id := tb.agents[node].GetContainerID()
	var err error
	switch how {
	case "disconnect":
		_, err = dc.NetworkConnect(ctx, tb.nw.ID, client.NetworkConnectOptions{Container: id,
			EndpointConfig: &dockernetwork.EndpointSettings{Aliases: []string{node}}})
	case "pause":
		_, err = dc.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{})
	default:
		tb.t.Fatalf("healAgent: unknown fault %q (disconnect or pause)", how)
	}
	if err != nil {
		tb.t.Fatalf("undo %s of agent %s: %v", how, node, err)
	}
}

// hostnameOf is the host name the kernel gives processes of a node's container.
func (tb *testbed) hostnameOf(node string) string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, ok := tb.agents[node]
	if !ok {
		tb.t.Fatalf("no agent container for node %q (nodes %v)", node, tb.nodes)
	}
	in, err := c.Inspect(ctx)
	if err != nil {
		tb.t.Fatalf("inspect %s: %v", node, err)
	}
	return in.Config.Hostname
}

func (tb *testbed) dumpLogs() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dump := func(name string, c *testcontainers.DockerContainer) {
		if c == nil {
			return
		}
		rc, err := c.Logs(ctx)
		if err != nil {
			tb.t.Logf("logs of %s: %v", name, err)
			return
		}
		defer rc.Close()
		b, _ := io.ReadAll(io.LimitReader(rc, 4<<20))
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(lines) > 80 {
			lines = lines[len(lines)-80:]
		}
		tb.t.Logf("---- last lines of %s ----\n%s", name, strings.Join(lines, "\n"))
	}
	dump("engine", tb.engine)
	for _, n := range tb.nodes {
		dump("agent "+n, tb.agents[n])
	}
}

// ---- REST as a user ----

var httpClient = &http.Client{Timeout: 15 * time.Second}

// call sends one request to the engine's API as the admin user and decodes a
// JSON answer into out. It never calls t.Fatal, so goroutines may use it.
func (tb *testbed) call(method, path string, body, out any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, tb.baseURL()+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tb.adminToken)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return res.StatusCode, raw, err
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return res.StatusCode, raw, fmt.Errorf("%s %s: %d, undecodable answer %q: %w", method, path, res.StatusCode, short(string(raw), 300), err)
		}
	}
	return res.StatusCode, raw, nil
}

// must is call that fails the test on a transport error or an unexpected status.
func (tb *testbed) must(method, path string, body, out any, want ...int) int {
	tb.t.Helper()
	code, raw, err := tb.call(method, path, body, out)
	if err != nil {
		tb.t.Fatalf("%s %s: %v", method, path, err)
	}
	for _, w := range want {
		if code == w {
			return code
		}
	}
	if len(want) > 0 {
		tb.t.Fatalf("%s %s = %d, want %v: %s", method, path, code, want, short(string(raw), 500))
	}
	return code
}

// eventually polls f every interval until it reports done, failing the test
// with f's last word after within. It is the only way tests wait.
func eventually(t *testing.T, what string, within, interval time.Duration, f func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	last := ""
	for {
		done, status := f()
		if done {
			return
		}
		last = status
		if time.Now().After(deadline) {
			t.Fatalf("%s: not done after %s; last seen: %s", what, within, last)
		}
		time.Sleep(interval)
	}
}

type step struct {
	Address  string          `json:"address"`
	Kind     string          `json:"kind"`
	State    string          `json:"state"`
	Attempts int             `json:"attempts"`
	Error    string          `json:"error"`
	Outputs  json.RawMessage `json:"outputs"`
}

type campaign struct {
	UID      string                     `json:"uid"`
	Filename string                     `json:"filename"`
	State    string                     `json:"state"`
	Reason   string                     `json:"reason"`
	Steps    []step                     `json:"steps"`
	Outputs  map[string]json.RawMessage `json:"outputs"`
	Detail   string                     `json:"detail"`
}

func (c campaign) step(address string) (step, bool) {
	for _, s := range c.Steps {
		if s.Address == address {
			return s, true
		}
	}
	return step{}, false
}

func (c campaign) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "campaign %s %s", c.UID, c.State)
	if c.Reason != "" {
		fmt.Fprintf(&b, " (%s)", c.Reason)
	}
	for _, s := range c.Steps {
		fmt.Fprintf(&b, "; %s %s×%d", s.Address, s.State, s.Attempts)
		if s.Error != "" {
			fmt.Fprintf(&b, " [%s]", short(s.Error, 200))
		}
	}
	return b.String()
}

var finalCampaign = map[string]bool{"succeeded": true, "failed": true, "canceled": true}

func (tb *testbed) submitCampaign(name, source string, vars map[string]string) campaign {
	tb.t.Helper()
	var c campaign
	tb.must("POST", "/v1/campaigns", map[string]any{"source": source, "filename": name, "variables": vars}, &c, 201)
	if c.UID == "" {
		tb.t.Fatalf("campaign without uid: %+v", c)
	}
	return c
}

func (tb *testbed) getCampaign(id string) (campaign, error) {
	var c campaign
	code, raw, err := tb.call("GET", "/v1/campaigns/"+id, nil, &c)
	if err == nil && code != 200 {
		err = fmt.Errorf("GET campaign %s = %d: %s", id, code, short(string(raw), 300))
	}
	return c, err
}

// waitCampaign polls a campaign until it reaches a final state. Transport
// errors count as "not yet" (the engine may be restarting).
func (tb *testbed) waitCampaign(id string, within time.Duration) campaign {
	tb.t.Helper()
	var c campaign
	eventually(tb.t, "campaign "+id+" final", within, 250*time.Millisecond, func() (bool, string) {
		cur, err := tb.getCampaign(id)
		if err != nil {
			return false, err.Error()
		}
		c = cur
		return finalCampaign[c.State], c.String()
	})
	return c
}

// waitStepRunning waits until the step is running.
func (tb *testbed) waitStepRunning(id, address string, within time.Duration) {
	tb.t.Helper()
	eventually(tb.t, address+" running", within, 200*time.Millisecond, func() (bool, string) {
		c, err := tb.getCampaign(id)
		if err != nil {
			return false, err.Error()
		}
		if finalCampaign[c.State] {
			tb.t.Fatalf("the campaign ended before %s ran: %s", address, c)
		}
		s, _ := c.step(address)
		return s.State == "running", c.String()
	})
}

type reservation struct {
	UID     string    `json:"uid"`
	Name    string    `json:"name"`
	State   string    `json:"state"`
	Reason  string    `json:"reason"`
	Nodes   []string  `json:"nodes"`
	StartAt time.Time `json:"start_at"`
	EndAt   time.Time `json:"end_at"`
}

func (tb *testbed) reservations() []reservation {
	tb.t.Helper()
	var list struct {
		Items []reservation `json:"items"`
		Total int           `json:"total"`
	}
	tb.must("GET", "/v1/reservations?limit=1000", nil, &list, 200)
	if list.Total > len(list.Items) {
		tb.t.Fatalf("%d reservations but the list gave %d", list.Total, len(list.Items))
	}
	return list.Items
}

var finalReservation = map[string]bool{"canceled": true, "terminated": true, "error": true}

// waitReservationEnded waits until a reservation reaches a final state and
// requires it to be canceled or terminated (released), not error.
func (tb *testbed) waitReservationEnded(id string, within time.Duration) reservation {
	tb.t.Helper()
	var r reservation
	eventually(tb.t, "reservation "+id+" released", within, 250*time.Millisecond, func() (bool, string) {
		r = reservation{}
		code, raw, err := tb.call("GET", "/v1/sites/"+site+"/reservations/"+id, nil, &r)
		if err != nil || code != 200 {
			return false, fmt.Sprintf("%d %v %s", code, err, short(string(raw), 200))
		}
		return finalReservation[r.State], r.State + " " + r.Reason
	})
	if r.State != "canceled" && r.State != "terminated" {
		tb.t.Fatalf("reservation %s ended %s (%s), want canceled or terminated", id, r.State, r.Reason)
	}
	return r
}

// nodeState is a node's state in the reference API (free, reserved, ...).
func (tb *testbed) nodeState(node string) string {
	tb.t.Helper()
	var n struct {
		State string `json:"state"`
	}
	tb.must("GET", "/v1/sites/"+site+"/clusters/"+cluster+"/nodes/"+node, nil, &n, 200)
	return n.State
}

// workRunning waits until the run.work step of campaign c runs cmd on the two
// nodes of the campaign's reservation (the only reservation of the test),
// and returns that reservation.
func (tb *testbed) workRunning(c campaign, cmd string) reservation {
	tb.t.Helper()
	tb.waitStepRunning(c.UID, "run.work", time.Minute)
	rs := tb.reservations()
	if len(rs) != 1 || len(rs[0].Nodes) != 2 {
		tb.t.Fatalf("want the campaign's reservation of 2 nodes: %+v", rs)
	}
	tb.processesRunning(rs[0].Nodes, cmd, 30*time.Second)
	return rs[0]
}

// ---- the agents' own API, to observe (never to act) ----

type agentProcess struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Args     []string `json:"args"`
	State    string   `json:"state"`
	ExitCode *int     `json:"exitCode"`
	Signal   string   `json:"signal"`
}

func (p agentProcess) String() string {
	code := "?"
	if p.ExitCode != nil {
		code = fmt.Sprint(*p.ExitCode)
	}
	return fmt.Sprintf("%s %s exit=%s signal=%q", p.ID, p.State, code, p.Signal)
}

func (tb *testbed) agentProcesses(node string) ([]agentProcess, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ep, err := tb.agents[node].PortEndpoint(ctx, agentPort, "http")
	if err != nil {
		return nil, err
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", ep+"/v1/processes", nil)
	req.Header.Set("Authorization", "Bearer "+tb.agentToken)
	res, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var ps []agentProcess
	if res.StatusCode != 200 {
		return nil, fmt.Errorf("agent %s: GET /v1/processes = %d", node, res.StatusCode)
	}
	return ps, json.NewDecoder(res.Body).Decode(&ps)
}

// processesRunning waits until every node runs a process whose command line
// contains cmd.
func (tb *testbed) processesRunning(nodes []string, cmd string, within time.Duration) {
	tb.t.Helper()
	eventually(tb.t, fmt.Sprintf("%q running on %v", cmd, nodes), within, 200*time.Millisecond, func() (bool, string) {
		var missing []string
		for _, n := range nodes {
			ps, err := tb.agentProcesses(n)
			if err != nil {
				return false, err.Error()
			}
			found := false
			for _, p := range ps {
				if p.State == "running" && strings.Contains(strings.Join(append([]string{p.Name}, p.Args...), " "), cmd) {
					found = true
				}
			}
			if !found {
				missing = append(missing, n)
			}
		}
		return len(missing) == 0, fmt.Sprintf("not yet on %v", missing)
	})
}
