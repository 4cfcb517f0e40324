//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// What the engine does with an agent it cannot reach (engine/hw/agentclient,
// engine/drivers.go, workflows/campaign.go runStep):
//   - every call that gets no answer counts; 3 in a row mark the node down
//     (state "down", reason "agent unreachable: …"), so that the scheduler
//     places nothing on it; the first answer marks it up again: free, or
//     reserved while a running reservation holds it. Every replica asks the
//     down nodes every 10 s (engine.WatchDownNodes), since nothing else
//     would;
//   - a run step's attempt is one activity; an unreachable node makes it
//     fail with a retryable error and Temporal retries it (5 activity
//     attempts, 1 s backoff doubling to 10 s); a retry starts the command
//     under the same process id, which the agent answers with the process it
//     already runs, so a command is never started twice by these retries;
//   - a node away for longer than those retries fails the step's attempt,
//     with an error that names the node.
//
// With "disconnect" a call fails at once (the alias stops resolving); with
// "pause" the kernel still accepts the connection and the call waits for
// the client's 30 s timeout, so the node is marked down after about 90 s.

// networkCutCampaign runs a 25 s command on two nodes, then a 10 s one: the
// first is where the fault lands, the second gives the test time to look at
// the nodes while the reservation still holds them after the fault.
const networkCutCampaign = `
reservation "r" {
  site     = "e2e"
  cluster  = "lab"
  nodes    = 2
  walltime = "30m"
}

run "work" {
  nodes   = reservation.r.nodes
  command = "sleep 25 && echo done on $(hostname)"
}

run "after" {
  nodes      = reservation.r.nodes
  command    = "sleep 10 && echo after on $(hostname)"
  depends_on = [run.work]
}

output "said" {
  value = { for node, r in run.work.results : node => trimspace(r.stdout) }
}
`

type nodeStatus struct {
	State       string `json:"state"`
	StateReason string `json:"state_reason"`
}

func (tb *testbed) nodeStatus(node string) (nodeStatus, error) {
	var n nodeStatus
	code, raw, err := tb.call("GET", "/v1/sites/"+site+"/clusters/"+cluster+"/nodes/"+node, nil, &n)
	if err == nil && code != 200 {
		err = fmt.Errorf("GET node %s = %d: %s", node, code, short(string(raw), 200))
	}
	return n, err
}

// processesOf lists the processes of a node whose command line contains cmd.
func (tb *testbed) processesOf(node, cmd string) []agentProcess {
	tb.t.Helper()
	ps, err := tb.agentProcesses(node)
	if err != nil {
		tb.t.Fatalf("processes of %s: %v", node, err)
	}
	var out []agentProcess
	for _, p := range ps {
		if strings.Contains(strings.Join(append([]string{p.Name}, p.Args...), " "), cmd) {
			out = append(out, p)
		}
	}
	return out
}

// TestAgentNetworkCut: while a campaign's run step runs on two nodes, one
// node's agent is cut from the network (docker network disconnect, or docker
// pause) until the engine marks the node down, then brought back. The agent
// kept running the command; the engine's retries find it again, so the step
// succeeds with one attempt, the command ran exactly once on each node and
// ran to its end, the node is shown held by the reservation again while it
// is, and is free once the campaign released it.
func TestAgentNetworkCut(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"disconnect", "pause"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			agentCutMidRun(t, how)
		})
	}
	t.Run("disconnect-too-long", func(t *testing.T) {
		t.Parallel()
		agentCutTooLong(t)
	})
}

func agentCutMidRun(t *testing.T, how string) {
	tb := startTestbed(t, 4)
	t0 := time.Now()
	c := tb.submitCampaign("network-cut.hcl", networkCutCampaign, nil)
	held := tb.workRunning(c, "sleep 25")
	nodes := held.Nodes
	cut, kept := nodes[1], nodes[0]

	tb.cutAgent(cut, how)
	cutAt := time.Now()
	healed := false
	t.Cleanup(func() {
		if !healed {
			tb.healAgent(cut, how)
		}
	})
	t.Logf("%s agent %s while %q runs on %v", how, cut, "sleep 25", nodes)

	// The engine marks the node down after 3 calls without answer; the step
	// is still being retried then, not failed.
	within := 60 * time.Second
	if how == "pause" {
		within = 3 * time.Minute // three calls of 30 s each, and backoff
	}
	var down nodeStatus
	eventually(t, "node "+cut+" marked down", within, 250*time.Millisecond, func() (bool, string) {
		st, err := tb.nodeStatus(cut)
		if err != nil {
			return false, err.Error()
		}
		down = st
		return st.State == "down", st.State + " " + st.StateReason
	})
	downAfter := time.Since(cutAt)
	if !strings.Contains(down.StateReason, "agent unreachable") {
		t.Errorf("node %s is down for %q, want a reason saying its agent is unreachable", cut, down.StateReason)
	}
	if cur, err := tb.getCampaign(c.UID); err != nil {
		t.Fatal(err)
	} else if s, _ := cur.step("run.work"); s.State != "running" {
		t.Fatalf("run.work should still be retried when the node is marked down, is %s: %s", s.State, cur)
	}
	if st := tb.nodeState(kept); st != "reserved" {
		t.Errorf("the healthy node %s is %s during the fault, want reserved", kept, st)
	}

	tb.healAgent(cut, how)
	healed = true
	healedAt := time.Now()
	t.Logf("node %s down %s after the %s (%s); agent back after %s", cut, downAfter.Round(time.Millisecond), how,
		down.StateReason, healedAt.Sub(cutAt).Round(time.Millisecond))

	// The reservation still holds the node: once its agent answers, the node
	// is reserved again, not down, and not free.
	tb.waitStepRunning(c.UID, "run.after", 90*time.Second)
	eventually(t, "node "+cut+" reserved again", 20*time.Second, 250*time.Millisecond, func() (bool, string) {
		st, err := tb.nodeStatus(cut)
		if err != nil {
			return false, err.Error()
		}
		return st.State == "reserved", st.State + " " + st.StateReason
	})

	done := tb.waitCampaign(c.UID, 2*time.Minute)
	t.Logf("%s, %s after submission", done, time.Since(t0).Round(time.Second))
	if done.State != "succeeded" {
		t.Fatalf("want succeeded once the agent is back: %s", done)
	}
	for _, s := range done.Steps {
		if s.Attempts != 1 {
			t.Errorf("step %s shows %d attempts, want 1: a step ran again", s.Address, s.Attempts)
		}
	}
	// The command ran once per node, to its end, on the cut node too.
	for _, n := range nodes {
		for _, cmd := range []string{"sleep 25", "sleep 10"} {
			ps := tb.processesOf(n, cmd)
			if len(ps) != 1 {
				t.Errorf("node %s ran %q %d times, want once: %v", n, cmd, len(ps), ps)
				continue
			}
			if p := ps[0]; p.State != "exited" || p.ExitCode == nil || *p.ExitCode != 0 || p.Signal != "" {
				t.Errorf("node %s: %q did not run to its end: %v", n, cmd, p)
			}
		}
	}
	var said map[string]string
	if err := json.Unmarshal(done.Outputs["said"], &said); err != nil || len(said) != 2 {
		t.Fatalf("output said = %s (%v)", done.Outputs["said"], err)
	}
	for _, n := range nodes {
		if want := "done on " + tb.hostnameOf(n); said[n] != want {
			t.Errorf("node %s said %q, want %q", n, said[n], want)
		}
	}

	// Released: both nodes free, and a reservation of every node is placed
	// now and launches (the once-down node answers).
	r := tb.waitReservationEnded(held.UID, time.Minute)
	for _, n := range nodes {
		eventually(t, "node "+n+" free", 30*time.Second, 250*time.Millisecond, func() (bool, string) {
			st, err := tb.nodeStatus(n)
			if err != nil {
				return false, err.Error()
			}
			return st.State == "free", st.State + " " + st.StateReason
		})
	}
	var all reservation
	tb.must("POST", "/v1/sites/"+site+"/reservations", map[string]any{"nodes": len(tb.nodes), "cluster": cluster, "walltime": "5m", "name": "after-cut"}, &all, 201)
	if !all.StartAt.Before(time.Now().Add(5 * time.Second)) {
		t.Errorf("a reservation of all %d nodes starts at %s, want now: a node is still kept out", len(tb.nodes), all.StartAt)
	}
	eventually(t, "reservation of every node running", time.Minute, 250*time.Millisecond, func() (bool, string) {
		var cur reservation
		code, raw, err := tb.call("GET", "/v1/sites/"+site+"/reservations/"+all.UID, nil, &cur)
		if err != nil || code != 200 {
			return false, fmt.Sprintf("%d %v %s", code, err, short(string(raw), 200))
		}
		if finalReservation[cur.State] {
			t.Fatalf("the reservation of every node ended %s: %s", cur.State, cur.Reason)
		}
		return cur.State == "running", cur.State + " " + cur.Reason
	})
	tb.must("DELETE", "/v1/sites/"+site+"/reservations/"+all.UID, nil, nil, 202)
	tb.waitReservationEnded(all.UID, time.Minute)

	fault := map[string]string{"disconnect": "agent cut from the network (docker network disconnect) mid-run",
		"pause": "agent container paused (docker pause) mid-run"}[how]
	record(t, sectionFault, fault,
		"node %s down after %s, back after %s; campaign %s, every step 1 attempt, command ran once per node; reservation %s, all %d nodes reservable again",
		cut, downAfter.Round(time.Second), healedAt.Sub(cutAt).Round(time.Second), done.State, r.State, len(tb.nodes))
	record(t, sectionInvariant, "no completed step ran twice ("+how+")", "%d steps × 1 attempt; 1 process per command per node on %v", len(done.Steps), nodes)
}

// agentCutTooLong: a node is cut from the network for longer than the
// engine retries. The step fails with an error that names the node, the
// campaign fails and releases its reservation; the node stays down while it
// is away, and once it is back the engine notices by itself (nothing is
// placed on a down node, so nothing else would ask it) and the node is
// free and reservable again.
func agentCutTooLong(t *testing.T) {
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
  command = "sleep 10"
}
`
	c := tb.submitCampaign("cut-too-long.hcl", src, nil)
	held := tb.workRunning(c, "sleep 10")
	nodes := held.Nodes
	cut, kept := nodes[1], nodes[0]
	tb.cutAgent(cut, "disconnect")
	cutAt := time.Now()
	healed := false
	t.Cleanup(func() {
		if !healed {
			tb.healAgent(cut, "disconnect")
		}
	})

	done := tb.waitCampaign(c.UID, 3*time.Minute)
	failedAfter := time.Since(cutAt)
	t.Logf("%s, %s after the cut", done, failedAfter.Round(time.Second))
	if done.State != "failed" {
		t.Fatalf("want failed while node %s is away: %s", cut, done)
	}
	s, _ := done.step("run.work")
	if s.State != "failed" || !strings.Contains(s.Error, cut) {
		t.Errorf("run.work should have failed naming %s: %s %q", cut, s.State, s.Error)
	}
	if strings.Contains(s.Error, "node "+kept+":") {
		t.Errorf("run.work's error blames the healthy node %s: %q", kept, s.Error)
	}
	if !strings.Contains(done.Reason, "run.work") {
		t.Errorf("the campaign's reason does not name run.work: %q", done.Reason)
	}
	for _, st := range done.Steps {
		if st.Attempts != 1 {
			t.Errorf("step %s shows %d attempts, want 1", st.Address, st.Attempts)
		}
	}
	r := tb.waitReservationEnded(held.UID, time.Minute)
	eventually(t, "node "+kept+" free", 30*time.Second, 250*time.Millisecond, func() (bool, string) {
		st := tb.nodeState(kept)
		return st == "free", st
	})
	if st, err := tb.nodeStatus(cut); err != nil || st.State != "down" {
		t.Errorf("node %s while still away: %+v %v, want down", cut, st, err)
	}

	tb.healAgent(cut, "disconnect")
	healed = true
	healedAt := time.Now()
	// Nobody asks the node anything: the engine must notice by itself.
	eventually(t, "node "+cut+" free again by itself", time.Minute, 500*time.Millisecond, func() (bool, string) {
		st, err := tb.nodeStatus(cut)
		if err != nil {
			return false, err.Error()
		}
		return st.State == "free", st.State + " " + st.StateReason
	})
	backAfter := time.Since(healedAt)
	// The command ran once on each node, the cut one included: its agent
	// went on without the engine.
	for _, n := range nodes {
		if ps := tb.processesOf(n, "sleep 10"); len(ps) != 1 {
			t.Errorf("node %s ran the command %d times, want once: %v", n, len(ps), ps)
		}
	}
	var all reservation
	tb.must("POST", "/v1/sites/"+site+"/reservations", map[string]any{"nodes": len(tb.nodes), "cluster": cluster, "walltime": "5m", "name": "after-cut"}, &all, 201)
	eventually(t, "reservation of every node running", time.Minute, 250*time.Millisecond, func() (bool, string) {
		var cur reservation
		code, raw, err := tb.call("GET", "/v1/sites/"+site+"/reservations/"+all.UID, nil, &cur)
		if err != nil || code != 200 {
			return false, fmt.Sprintf("%d %v %s", code, err, short(string(raw), 200))
		}
		if finalReservation[cur.State] {
			t.Fatalf("the reservation of every node ended %s: %s", cur.State, cur.Reason)
		}
		return cur.State == "running", cur.State + " " + cur.Reason
	})
	tb.must("DELETE", "/v1/sites/"+site+"/reservations/"+all.UID, nil, nil, 202)
	tb.waitReservationEnded(all.UID, time.Minute)
	record(t, sectionFault, "agent cut from the network for longer than the retries",
		"campaign failed naming %s %s after the cut, reservation %s; node down while away, free again %s after it was back (no one asked it), all %d nodes reservable",
		cut, failedAfter.Round(time.Second), r.State, backAfter.Round(time.Second), len(tb.nodes))
}
