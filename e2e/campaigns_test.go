//go:build e2e

package e2e

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"
)

const hostnameCampaign = `
variable "nodes" {
  type    = number
  default = 3
}

reservation "r" {
  site     = "e2e"
  cluster  = "lab"
  nodes    = var.nodes
  walltime = "10m"
}

run "hostname" {
  nodes   = reservation.r.nodes
  command = "hostname"
}

output "nodes" {
  value = reservation.r.nodes
}

output "hostnames" {
  value = { for node, r in run.hostname.results : node => trimspace(r.stdout) }
}
`

// TestCampaignRunsOnAgentContainers: a campaign reserves 3 of the 4 nodes and
// runs hostname on them; each node answers with the host name of its own
// container, so the command really ran there, and the reservation is released.
func TestCampaignRunsOnAgentContainers(t *testing.T) {
	tb := startTestbed(t, 4)
	t0 := time.Now()
	c := tb.submitCampaign("hostname.hcl", hostnameCampaign, map[string]string{"nodes": "3"})
	done := tb.waitCampaign(c.UID, 2*time.Minute)
	t.Logf("%s in %s", done, time.Since(t0).Round(time.Millisecond))
	if done.State != "succeeded" {
		t.Fatalf("want succeeded: %s", done)
	}
	var nodes []string
	var hostnames map[string]string
	if err := json.Unmarshal(done.Outputs["nodes"], &nodes); err != nil || len(nodes) != 3 {
		t.Fatalf("output nodes = %s (%v), want 3 nodes", done.Outputs["nodes"], err)
	}
	if err := json.Unmarshal(done.Outputs["hostnames"], &hostnames); err != nil || len(hostnames) != 3 {
		t.Fatalf("output hostnames = %s (%v), want 3", done.Outputs["hostnames"], err)
	}
	seen := map[string]string{}
	for _, n := range nodes {
		want := tb.hostnameOf(n)
		got, ok := hostnames[n]
		if !ok || got != want {
			t.Errorf("node %s said hostname %q, its container's host name is %q", n, got, want)
		}
		if other, dup := seen[got]; dup {
			t.Errorf("nodes %s and %s gave the same host name %q", other, n, got)
		}
		seen[got] = n
	}
	for _, s := range done.Steps {
		if s.Attempts != 1 {
			t.Errorf("step %s ran %d times, want 1", s.Address, s.Attempts)
		}
	}
	t.Logf("hostnames: %v", hostnames)

	// The campaign's reservation holds the same nodes, and ends with it.
	rs := tb.reservations()
	if len(rs) != 1 {
		t.Fatalf("%d reservations, want the campaign's one: %+v", len(rs), rs)
	}
	got := append([]string(nil), rs[0].Nodes...)
	sort.Strings(got)
	sort.Strings(nodes)
	if strings.Join(got, ",") != strings.Join(nodes, ",") {
		t.Errorf("reservation nodes %v, campaign output %v", got, nodes)
	}
	r := tb.waitReservationEnded(rs[0].UID, time.Minute)
	t.Logf("reservation %s %s (%s)", r.UID, r.State, r.Reason)
}

// TestCampaignNodeLost: an agent container is killed while a command runs on
// it and on another node. The campaign fails, the failed step names the lost
// node, and the reservation is released: it ends canceled and its nodes that
// are still there are free again.
func TestCampaignNodeLost(t *testing.T) {
	t.Parallel()
	tb := startTestbed(t, 4)
	src := `
reservation "r" {
  site     = "e2e"
  cluster  = "lab"
  nodes    = 2
  walltime = "30m"
}

run "work" {
  nodes   = reservation.r.nodes
  command = "sleep 20"
}
`
	c := tb.submitCampaign("node-lost.hcl", src, nil)
	held := tb.workRunning(c, "sleep 20")
	nodes := held.Nodes
	lost, kept := nodes[1], nodes[0]
	tb.stopAgent(lost)
	killed := time.Now()
	t.Logf("killed agent %s while %q ran on %v", lost, "sleep 20", nodes)

	// The engine retries an unreachable node before it gives up: its retry
	// schedule (10 attempts, backoff up to a minute) takes about 5 minutes.
	done := tb.waitCampaign(c.UID, nodeLostWithin)
	t.Logf("%s, %s after the node was lost", done, time.Since(killed).Round(time.Second))
	if done.State != "failed" {
		t.Fatalf("want failed: %s", done)
	}
	s, ok := done.step("run.work")
	if !ok || s.State != "failed" {
		t.Fatalf("run.work should have failed: %s", done)
	}
	if !strings.Contains(s.Error, lost) {
		t.Errorf("run.work's error does not name the lost node %s: %q", lost, s.Error)
	}
	if strings.Contains(s.Error, "node "+kept+":") {
		t.Errorf("run.work's error blames the healthy node %s: %q", kept, s.Error)
	}
	if !strings.Contains(done.Reason, "run.work") {
		t.Errorf("the campaign's reason does not name run.work: %q", done.Reason)
	}
	ended := time.Now()
	r := tb.waitReservationEnded(held.UID, 2*time.Minute)
	t.Logf("reservation %s %s (%s) %s after the campaign ended", r.UID, r.State, r.Reason, time.Since(ended).Round(time.Second))
	eventually(t, "node "+kept+" free again", 30*time.Second, 250*time.Millisecond, func() (bool, string) {
		st := tb.nodeState(kept)
		return st == "free", st
	})
	record(t, sectionFault, "agent container stopped mid-run",
		"campaign failed naming %s after %s, reservation %s, healthy node free again",
		lost, ended.Sub(killed).Round(time.Second), r.State)
}

// nodeLostWithin bounds how long the engine may take to give up on a lost node.
const nodeLostWithin = 7 * time.Minute

// TestCampaignSurvivesEngineRestart: the engine container is stopped and
// started again while a command runs on the nodes, once gracefully (SIGTERM,
// as docker stop and docker restart do) and once killed (SIGKILL, a crash). The
// campaign goes on from where it was and succeeds, the command ran to its
// end exactly once on each node, and no step ran twice.
func TestCampaignSurvivesEngineRestart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		kill bool
	}{{"graceful-stop", false}, {"killed", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			engineRestartMidRun(t, tc.kill)
		})
	}
}

func engineRestartMidRun(t *testing.T, kill bool) {
	tb := startTestbed(t, 4)
	src := `
reservation "r" {
  site     = "e2e"
  cluster  = "lab"
  nodes    = 2
  walltime = "30m"
}

run "work" {
  nodes   = reservation.r.nodes
  command = "sleep 15 && echo slept on $(hostname)"
}

output "said" {
  value = { for node, r in run.work.results : node => trimspace(r.stdout) }
}
`
	t0 := time.Now()
	c := tb.submitCampaign("restart.hcl", src, nil)
	held := tb.workRunning(c, "sleep 15")
	nodes := held.Nodes

	tb.restartEngine(kill, 10*time.Second)

	// A killed worker's activity is retried after its heartbeat timeout (a
	// minute): allow for it.
	done := tb.waitCampaign(c.UID, 4*time.Minute)
	t.Logf("%s, %s after submission", done, time.Since(t0).Round(time.Second))

	// What ran on the nodes: one process per node for the command, which
	// ran to its end.
	for _, n := range nodes {
		ps, err := tb.agentProcesses(n)
		if err != nil {
			t.Fatal(err)
		}
		var mine []agentProcess
		for _, p := range ps {
			if strings.Contains(strings.Join(p.Args, " "), "sleep 15") {
				mine = append(mine, p)
			}
		}
		t.Logf("node %s ran: %v", n, mine)
		if len(mine) != 1 {
			t.Errorf("node %s ran the command %d times, want once: %v", n, len(mine), mine)
			continue
		}
		if p := mine[0]; p.State != "exited" || p.ExitCode == nil || *p.ExitCode != 0 || p.Signal != "" {
			t.Errorf("node %s: the command did not run to its end: %v", n, p)
		}
	}

	if done.State != "succeeded" {
		t.Fatalf("want succeeded after the restart: %s", done)
	}
	for _, s := range done.Steps {
		if s.Attempts != 1 {
			t.Errorf("step %s shows %d attempts, want 1: a completed step ran again", s.Address, s.Attempts)
		}
	}
	var said map[string]string
	if err := json.Unmarshal(done.Outputs["said"], &said); err != nil || len(said) != 2 {
		t.Fatalf("output said = %s (%v)", done.Outputs["said"], err)
	}
	for _, n := range nodes {
		if want := "slept on " + tb.hostnameOf(n); said[n] != want {
			t.Errorf("node %s said %q, want %q", n, said[n], want)
		}
	}
	// The reservation step did not reserve twice.
	if rs := tb.reservations(); len(rs) != 1 {
		t.Errorf("%d reservations after the restart, want 1", len(rs))
	}
	tb.waitReservationEnded(held.UID, time.Minute)
	how := "engine container stopped (SIGTERM) mid-campaign"
	if kill {
		how = "engine container killed (SIGKILL) mid-campaign"
	}
	record(t, sectionFault, how, "campaign %s %s after submission, command ran once per node, every step 1 attempt",
		done.State, time.Since(t0).Round(time.Second))
	record(t, sectionInvariant, "no completed step ran twice", "%d steps, 1 attempt each, 1 reservation", len(done.Steps))
}
