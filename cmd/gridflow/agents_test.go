package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridflow/gridflow/agent"
)

// TestCampaignOnRealAgents runs a campaign on two gridflow agents on loopback
// (real processes on this host), then stops one agent and sees its node
// marked down, and free again once it answers.
func TestCampaignOnRealAgents(t *testing.T) {
	const agentToken = "agent-test-token-0123456789"
	type running struct {
		addr   string
		cancel context.CancelFunc
		done   chan error
	}
	startAgent := func(addr, dir string) running {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- agent.Serve(ctx, l, agent.Config{DataDir: dir, Token: agentToken}) }()
		return running{l.Addr().String(), cancel, done}
	}
	a1 := startAgent("127.0.0.1:0", t.TempDir())
	dir2 := t.TempDir()
	a2 := startAgent("127.0.0.1:0", dir2)
	defer a1.cancel()

	tb := fmt.Sprintf(`site "s" {
  cluster "real" {
    driver "agent" {
      agents = { "real-1" = %q, "real-2" = %q }
    }
    node "real-1" {
      properties {
        cores   = 2
        memory  = "1GiB"
        disk    = "1GB"
        network = "1Gbps"
      }
    }
    node "real-2" {
      properties {
        cores   = 2
        memory  = "1GiB"
        disk    = "1GB"
        network = "1Gbps"
      }
    }
  }
}
`, a1.addr, a2.addr)
	tbFile := filepath.Join(t.TempDir(), "real.hcl")
	if err := os.WriteFile(tbFile, []byte(tb), 0o644); err != nil {
		t.Fatal(err)
	}
	d := startDev(t, t.TempDir(), "--testbed", tbFile, "--admin-token", "gft_reservation-test-admin-token", "--agent-token", agentToken)
	defer d.stop(t)
	admin := apiClient{t: t, base: "http://" + d.api, token: "gft_reservation-test-admin-token"}

	src := `
reservation "r" {
  site     = "s"
  nodes    = 2
  walltime = "10m"
}
run "pid" {
  nodes   = reservation.r.nodes
  command = "echo $$; echo err >&2; exit 0"
}
output "results" {
  value = run.pid.results
}
`
	var it campaignResp
	if code := admin.do("POST", "/v1/campaigns", map[string]any{"source": src}, &it); code != 201 {
		t.Fatalf("submit = %d %+v", code, it.Errors)
	}
	done := admin.waitCampaign(it.UID, 60*time.Second, "succeeded", "failed", "canceled")
	if done.State != "succeeded" {
		t.Fatalf("campaign %s: %s %+v", done.State, done.Reason, done.Steps)
	}
	// Each node ran a real shell: its pid and its stderr came back.
	for _, node := range []string{"real-1", "real-2"} {
		if !strings.Contains(string(done.Outputs["results"]), `"`+node+`"`) || !strings.Contains(string(done.Outputs["results"]), "err") {
			t.Fatalf("results %s lack %s's real output", done.Outputs["results"], node)
		}
	}

	// Agent 2 goes away: calls to it fail and its node is marked down.
	a2.cancel()
	<-a2.done
	deadline := time.Now().Add(60 * time.Second)
	for admin.nodeStateOf("real", "real-2") != "down" {
		admin.do("GET", "/v1/nodes/real-2/info", nil, nil)
		if time.Now().After(deadline) {
			t.Fatalf("real-2 is %q after its agent stopped", admin.nodeStateOf("real", "real-2"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	// It comes back on the same address: free again.
	a2 = startAgent(a2.addr, dir2)
	defer a2.cancel()
	deadline = time.Now().Add(60 * time.Second)
	for admin.nodeStateOf("real", "real-2") != "free" {
		admin.do("GET", "/v1/nodes/real-2/info", nil, nil)
		if time.Now().After(deadline) {
			t.Fatalf("real-2 is %q after its agent came back", admin.nodeStateOf("real", "real-2"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (c apiClient) nodeStateOf(cluster, node string) string {
	var n struct{ State string }
	c.do("GET", "/v1/sites/s/clusters/"+cluster+"/nodes/"+node, nil, &n)
	return n.State
}
