//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	temporalclient "go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/gridflow/gridflow/engine/store/pgtest"
)

// The production topology (DESIGN.md, "One binary, three roles"):
//
//   - PostgreSQL on 127.0.0.1 of this machine: the one pgtest starts (the
//     postgres binaries scripts/postgres.sh uses, listen_addresses=127.0.0.1),
//     or the server GRIDFLOW_TEST_POSTGRES names (e.g. what
//     `scripts/postgres.sh start DIR` printed); every run gets a fresh
//     database.
//   - One external Temporal server: the embedded frontend of a `gridflow dev`
//     container, published on 127.0.0.1. Its own worker polls the namespace
//     "default"; the replicas use a namespace of their own, registered by the
//     test, so that no task of theirs ever reaches that worker.
//   - Two `gridflow server` replicas in containers with host networking. That
//     is the choice that keeps PostgreSQL on loopback only, as
//     scripts/postgres.sh starts it (a server on the bridge address would
//     need listen_addresses and pg_hba changed): the replicas reach it, the
//     Temporal frontend and each other's clients at 127.0.0.1, and reach the
//     agents at their addresses on the test's private network, which the
//     host routes to. The test talks to each replica at 127.0.0.1:<port>.
//   - Four agent containers on the private network (startTestbed's).

// replicaNamespace is the Temporal namespace of the replicas.
const replicaNamespace = "gridflow-e2e-replicas"

// replicaSet is the production topology of one test.
type replicaSet struct {
	t            *testing.T
	tb           *testbed // the agents, and the dev engine whose Temporal the replicas use
	temporalAddr string   // 127.0.0.1:<mapped 7233>
	dsn          string
	testbedHCL   string
	replicas     []*serverReplica
}

// serverReplica is one `gridflow server` container.
type serverReplica struct {
	name string
	c    *testcontainers.DockerContainer
	base string // http://127.0.0.1:<port>
}

// replicaTestbedHCL describes the replicas' site: the agent cluster "lab"
// (the agent containers, by their address on the private network), a
// simulated cluster "sim" for reservation load and a simulated cluster
// "simc" for campaigns.
func replicaTestbedHCL(agentAddrs map[string]string, nodes []string, simNodes, simcNodes int) string {
	var agents []string
	for _, n := range nodes {
		agents = append(agents, fmt.Sprintf("%q = %q", n, agentAddrs[n]))
	}
	simCluster := func(name string, count int) string {
		return fmt.Sprintf(`
  cluster %q {
    driver "sim" {
      boot_time    = "0s"
      deploy_time  = "0s"
      failure_rate = 0
    }
    nodes {
      count = %d
      name  = "%s-%%d"
      properties {
        cores  = 8
        memory = "16GiB"
      }
    }
  }
`, name, count, name)
	}
	return fmt.Sprintf(`site %q {
  description = "end-to-end tests of the production role: two gridflow server replicas"
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
%s%s}
`, site, cluster, strings.Join(agents, ", "), len(nodes), simCluster("sim", simNodes), simCluster("simc", simcNodes))
}

// startReplicaSet starts the agents and the Temporal server, a database,
// and n `gridflow server` replicas, one after the other (each migrates the
// database and loads the testbed; the second finds both done).
func startReplicaSet(t *testing.T, n, simNodes, simcNodes int) *replicaSet {
	t.Helper()
	tb := startTestbedWith(t, 4, testbedOptions{exposeTemporal: true})
	rs := &replicaSet{t: t, tb: tb, dsn: pgtest.DSN(t)}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	ep, err := tb.engine.PortEndpoint(ctx, temporalPort, "")
	if err != nil {
		t.Fatalf("Temporal frontend port: %v", err)
	}
	rs.temporalAddr = ep
	registerNamespace(t, ctx, rs.temporalAddr, replicaNamespace)

	addrs := map[string]string{}
	for _, node := range tb.nodes {
		ip, err := tb.agents[node].ContainerIP(ctx)
		if err != nil || ip == "" {
			t.Fatalf("address of agent %s: %q %v", node, ip, err)
		}
		addrs[node] = net.JoinHostPort(ip, "7070")
	}
	rs.testbedHCL = replicaTestbedHCL(addrs, tb.nodes, simNodes, simcNodes)
	for i := range n {
		rs.replicas = append(rs.replicas, rs.startReplica(ctx, fmt.Sprintf("replica-%c", 'a'+i)))
	}
	t.Cleanup(func() {
		if t.Failed() {
			rs.dumpReplicaLogs()
		}
	})
	return rs
}

// registerNamespace registers ns on the Temporal frontend at addr and
// waits until the frontend serves it (its namespace cache refreshes every
// few seconds).
func registerNamespace(t *testing.T, ctx context.Context, addr, ns string) {
	t.Helper()
	nc, err := temporalclient.NewNamespaceClient(temporalclient.Options{HostPort: addr})
	if err != nil {
		t.Fatalf("Temporal namespace client at %s: %v", addr, err)
	}
	defer nc.Close()
	err = nc.Register(ctx, &workflowservice.RegisterNamespaceRequest{Namespace: ns,
		WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour)})
	var exists *serviceerror.NamespaceAlreadyExists
	if err != nil && !errors.As(err, &exists) {
		t.Fatalf("register the Temporal namespace %s at %s: %v", ns, addr, err)
	}
	c, err := temporalclient.DialContext(ctx, temporalclient.Options{HostPort: addr, Namespace: ns})
	if err != nil {
		t.Fatalf("Temporal client for %s: %v", ns, err)
	}
	defer c.Close()
	eventually(t, "namespace "+ns+" served", time.Minute, 250*time.Millisecond, func() (bool, string) {
		_, err := c.DescribeTaskQueue(ctx, "gridflow-e2e-probe", enums.TASK_QUEUE_TYPE_WORKFLOW)
		return err == nil, fmt.Sprint(err)
	})
}

// freeLoopbackPort returns a port nothing listens on at 127.0.0.1.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (rs *replicaSet) startReplica(ctx context.Context, name string) *serverReplica {
	t := rs.t
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freeLoopbackPort(t))
	t0 := time.Now()
	c, err := testcontainers.Run(ctx, image,
		testcontainers.WithCmd("server", "--listen", addr, "--database", rs.dsn,
			"--temporal-address", rs.temporalAddr, "--temporal-namespace", replicaNamespace,
			"--testbed", "/testbed.hcl", "--admin-token", rs.tb.adminToken, "--agent-token", rs.tb.agentToken,
			"--log-level", "warn"),
		testcontainers.WithFiles(testcontainers.ContainerFile{
			Reader: strings.NewReader(rs.testbedHCL), ContainerFilePath: "/testbed.hcl", FileMode: 0o644}),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) { hc.NetworkMode = "host" }),
		testcontainers.WithLabels(map[string]string{"gridflow.e2e.test": t.Name(), "gridflow.e2e.role": name}),
	)
	if c != nil {
		testcontainers.CleanupContainer(t, c, testcontainers.StopTimeout(0))
	}
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	r := &serverReplica{name: name, c: c, base: "http://" + addr}
	rs.waitReady(ctx, r)
	t.Logf("%s ready at %s in %s", name, r.base, time.Since(t0).Round(time.Millisecond))
	return r
}

func (rs *replicaSet) waitReady(ctx context.Context, r *serverReplica) {
	t := rs.t
	t.Helper()
	eventually(t, r.name+" ready", 90*time.Second, 100*time.Millisecond, func() (bool, string) {
		if in, err := r.c.Inspect(ctx); err == nil && !in.State.Running {
			t.Fatalf("%s exited (%d) before it was ready:\n%s", r.name, in.State.ExitCode, containerLogTail(r.c, 40))
		}
		res, err := httpClient.Get(r.base + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		res.Body.Close()
		return res.StatusCode == 200, res.Status
	})
}

// kill sends SIGKILL to a replica (a crash: no graceful shutdown) and
// waits until its container is gone.
func (rs *replicaSet) kill(r *serverReplica) {
	rs.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dc := dockerClient(rs.t)
	if _, err := dc.ContainerKill(ctx, r.c.GetContainerID(), client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		rs.t.Fatalf("kill %s: %v", r.name, err)
	}
	eventually(rs.t, r.name+" exited", 30*time.Second, 50*time.Millisecond, func() (bool, string) {
		in, err := r.c.Inspect(ctx)
		if err != nil {
			return false, err.Error()
		}
		return !in.State.Running, string(in.State.Status)
	})
}

// restart starts a killed replica's container again and waits until it is
// ready; with host networking it listens where it did.
func (rs *replicaSet) restart(r *serverReplica) {
	rs.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t0 := time.Now()
	if err := r.c.Start(ctx); err != nil {
		rs.t.Fatalf("restart %s: %v", r.name, err)
	}
	rs.waitReady(ctx, r)
	rs.t.Logf("%s restarted, ready in %s", r.name, time.Since(t0).Round(time.Millisecond))
}

func containerLogTail(c *testcontainers.DockerContainer, n int) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc, err := c.Logs(ctx)
	if err != nil {
		return "(no logs: " + err.Error() + ")"
	}
	defer rc.Close()
	b, _ := io.ReadAll(io.LimitReader(rc, 4<<20))
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (rs *replicaSet) dumpReplicaLogs() {
	for _, r := range rs.replicas {
		rs.t.Logf("---- last lines of %s ----\n%s", r.name, containerLogTail(r.c, 60))
	}
}

// ---- REST through one replica ----

// replicaCall sends one request to base as the admin and decodes a JSON
// answer into out; it never fails the test (goroutines use it).
func replicaCall(hc *http.Client, base, token, method, path string, body, out any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return res.StatusCode, raw, err
	}
	if out != nil && len(raw) > 0 && res.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			return res.StatusCode, raw, fmt.Errorf("%s %s: %d, undecodable answer %q: %w", method, path, res.StatusCode, short(string(raw), 300), err)
		}
	}
	return res.StatusCode, raw, nil
}

// allReservations pages through every reservation the replica at base knows.
func allReservations(t *testing.T, base, token string) []reservation {
	t.Helper()
	var all []reservation
	for offset := 0; ; {
		var page struct {
			Items []reservation `json:"items"`
			Total int           `json:"total"`
		}
		code, raw, err := replicaCall(httpClient, base, token, "GET", fmt.Sprintf("/v1/reservations?limit=1000&offset=%d", offset), nil, &page)
		if err != nil || code != 200 {
			t.Fatalf("list reservations at %s (offset %d): %d %v %s", base, offset, code, err, short(string(raw), 300))
		}
		all = append(all, page.Items...)
		offset += len(page.Items)
		if len(page.Items) == 0 || offset >= page.Total {
			if len(all) < page.Total {
				t.Fatalf("%d reservations listed of %d", len(all), page.Total)
			}
			return all
		}
	}
}

// overlappingPairs counts pairs of reservations that hold a node in
// overlapping [start_at, end_at) windows, naming the first few.
func overlappingPairs(rs []reservation) (int, int, []string) {
	byNode := map[string][]reservation{}
	for _, r := range rs {
		if !r.StartAt.Before(r.EndAt) {
			continue // ended before it started: held nothing
		}
		for _, n := range r.Nodes {
			byNode[n] = append(byNode[n], r)
		}
	}
	pairs := 0
	var examples []string
	for node, list := range byNode {
		sort.Slice(list, func(i, j int) bool { return list[i].StartAt.Before(list[j].StartAt) })
		for i := range list {
			for j := i + 1; j < len(list) && list[j].StartAt.Before(list[i].EndAt); j++ {
				pairs++
				if len(examples) < 10 {
					a, b := list[i], list[j]
					examples = append(examples, fmt.Sprintf("node %s in %s [%s, %s) and %s [%s, %s)", node,
						a.UID, a.StartAt.Format(time.StampMilli), a.EndAt.Format(time.StampMilli),
						b.UID, b.StartAt.Format(time.StampMilli), b.EndAt.Format(time.StampMilli)))
				}
			}
		}
	}
	return pairs, len(byNode), examples
}
