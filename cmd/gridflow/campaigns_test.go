package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

type campaignResp struct {
	UID     string
	State   string
	Reason  string
	Outputs map[string]json.RawMessage
	Steps   []struct {
		Address  string
		State    string
		Attempts int
		Error    string
	}
	Detail string
	Errors []struct{ Message, Location string }
}

func (c apiClient) waitCampaign(id string, within time.Duration, final ...string) campaignResp {
	c.t.Helper()
	deadline := time.Now().Add(within)
	var it campaignResp
	for time.Now().Before(deadline) {
		it = campaignResp{}
		c.do("GET", "/v1/campaigns/"+id, nil, &it)
		for _, f := range final {
			if it.State == f {
				return it
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("campaign %s is %s (%s) after %s, want %v: %+v", id, it.State, it.Reason, within, final, it.Steps)
	return it
}

const helloCampaign = `
variable "nodes" {
  type    = number
  default = 2
}

reservation "hello" {
  site     = "s"
  nodes    = var.nodes
  cluster  = "a"
  walltime = "15m"
}

run "hostname" {
  nodes   = reservation.hello.nodes
  command = "hostname"
}

output "nodes" {
  value = reservation.hello.nodes
}

output "hostnames" {
  value = { for node, r in run.hostname.results : node => trimspace(r.stdout) }
}
`

func TestCampaignRunsAndReleases(t *testing.T) {
	d, admin := startTinyDev(t, t.TempDir())
	defer d.stop(t)

	var it campaignResp
	code := admin.do("POST", "/v1/campaigns", map[string]any{"source": helloCampaign, "filename": "hello.hcl",
		"variables": map[string]string{"nodes": "3"}, "sid": "hello-1"}, &it)
	if code != 201 {
		t.Fatalf("submit = %d %+v", code, it)
	}
	done := admin.waitCampaign(it.UID, 60*time.Second, "succeeded", "failed", "canceled")
	if done.State != "succeeded" {
		t.Fatalf("campaign %s: %s %+v", done.State, done.Reason, done.Steps)
	}
	recordHistory(t, d, it.UID, "campaign-hello.json")
	var nodes []string
	var hostnames map[string]string
	if err := json.Unmarshal(done.Outputs["nodes"], &nodes); err != nil || len(nodes) != 3 {
		t.Fatalf("nodes output %s (%v)", done.Outputs["nodes"], err)
	}
	if err := json.Unmarshal(done.Outputs["hostnames"], &hostnames); err != nil || len(hostnames) != 3 || hostnames[nodes[0]] != nodes[0] {
		t.Fatalf("hostnames output %s (%v)", done.Outputs["hostnames"], err)
	}
	// The reservation it made is released: the nodes are free again.
	for _, n := range nodes {
		deadline := time.Now().Add(20 * time.Second)
		for admin.nodeState(n) != "free" {
			if time.Now().After(deadline) {
				t.Fatalf("node %s still %s after the campaign", n, admin.nodeState(n))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// The same sid returns the same campaign, not a second one.
	var again campaignResp
	if code := admin.do("POST", "/v1/campaigns", map[string]any{"source": helloCampaign, "sid": "hello-1"}, &again); code != 200 || again.UID != it.UID {
		t.Fatalf("resubmission = %d %s, want 200 %s", code, again.UID, it.UID)
	}
	var list struct{ Total int }
	admin.do("GET", "/v1/campaigns", nil, &list)
	if list.Total != 1 {
		t.Fatalf("%d campaigns after an idempotent resubmission", list.Total)
	}
}

func TestCampaignFailureAbortsAndReleases(t *testing.T) {
	d, admin := startTinyDev(t, t.TempDir())
	defer d.stop(t)
	src := `
reservation "r" {
  site     = "s"
  nodes    = 1
  walltime = "1h"
}
run "bad" {
  nodes   = reservation.r.nodes
  command = "exit 3"
  on_failure {
    retry {
      attempts = 2
      backoff  = "1s"
    }
  }
}
run "after" {
  nodes   = reservation.r.nodes
  command = "true"
  depends_on = [run.bad]
}
`
	var it campaignResp
	if code := admin.do("POST", "/v1/campaigns", map[string]any{"source": src}, &it); code != 201 {
		t.Fatalf("submit = %d %s %+v", code, it.Detail, it.Errors)
	}
	done := admin.waitCampaign(it.UID, 60*time.Second, "succeeded", "failed", "canceled")
	if done.State != "failed" || !strings.Contains(done.Reason, "run.bad") {
		t.Fatalf("campaign %s: %s", done.State, done.Reason)
	}
	recordHistory(t, d, it.UID, "campaign-retry-abort.json")
	states := map[string]string{}
	for _, s := range done.Steps {
		states[s.Address] = s.State
		if s.Address == "run.bad" && s.Attempts != 2 {
			t.Fatalf("run.bad ran %d times, want 2 (retry attempts)", s.Attempts)
		}
	}
	if states["run.bad"] != "failed" || states["run.after"] != "skipped" || states["reservation.r"] != "succeeded" {
		t.Fatalf("step states %v", states)
	}
	var rs struct {
		Items []resv
	}
	admin.do("GET", "/v1/reservations", nil, &rs)
	for _, r := range rs.Items {
		admin.waitState(r.UID, "canceled", 20*time.Second)
	}
}

func TestCampaignCancelReleases(t *testing.T) {
	d, admin := startTinyDev(t, t.TempDir())
	defer d.stop(t)
	src := `
reservation "r" {
  site     = "s"
  nodes    = 2
  walltime = "1h"
}
run "long" {
  nodes   = reservation.r.nodes
  command = "sleep 300"
}
`
	var it campaignResp
	admin.do("POST", "/v1/campaigns", map[string]any{"source": src}, &it)
	// Wait until the command runs, then cancel.
	deadline := time.Now().Add(30 * time.Second)
	for {
		cur := admin.waitCampaign(it.UID, 30*time.Second, "running")
		if len(cur.Steps) == 2 && cur.Steps[1].State == "running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run.long never started: %+v", cur.Steps)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code := admin.do("DELETE", "/v1/campaigns/"+it.UID, nil, nil); code != 202 {
		t.Fatalf("cancel = %d", code)
	}
	done := admin.waitCampaign(it.UID, 30*time.Second, "canceled", "failed", "succeeded")
	if done.State != "canceled" {
		t.Fatalf("campaign %s: %s", done.State, done.Reason)
	}
	var rs struct{ Items []resv }
	admin.do("GET", "/v1/reservations", nil, &rs)
	if len(rs.Items) != 1 {
		t.Fatalf("%d reservations", len(rs.Items))
	}
	admin.waitState(rs.Items[0].UID, "canceled", 20*time.Second)
	if code := admin.do("DELETE", "/v1/campaigns/"+it.UID, nil, nil); code != 409 {
		t.Fatalf("second cancel = %d, want 409", code)
	}
}

func TestCampaignRejectsBadSourceWithPositions(t *testing.T) {
	d, admin := startTinyDev(t, t.TempDir())
	defer d.stop(t)
	var it campaignResp
	code := admin.do("POST", "/v1/campaigns", map[string]any{"source": "run \"x\" {\n  nodes = reservation.nope.nodes\n  command = \"true\"\n}\n", "filename": "bad.hcl"}, &it)
	if code != 422 || len(it.Errors) == 0 || !strings.HasPrefix(it.Errors[0].Location, "bad.hcl:2:") {
		t.Fatalf("= %d %+v", code, it.Errors)
	}
	var v struct {
		Valid       bool
		Diagnostics []struct{ Line int }
	}
	admin.do("POST", "/v1/campaigns/validate", map[string]any{"source": "reservation \"r\" {\n  site = 3\n}\n"}, &v)
	if v.Valid || len(v.Diagnostics) == 0 {
		t.Fatalf("validate: %+v", v)
	}
	var list struct{ Total int }
	admin.do("GET", "/v1/campaigns", nil, &list)
	if list.Total != 0 {
		t.Fatalf("a rejected campaign was created")
	}
}

func TestCampaignDeploysThenRuns(t *testing.T) {
	d, admin := startTinyDev(t, t.TempDir())
	defer d.stop(t)
	src := `
reservation "exp" {
  site     = "s"
  cluster  = "a"
  nodes    = 2
  walltime = "30m"
  types    = ["deploy"]
}
deployment "os" {
  environment = "debian12-min"
  nodes       = reservation.exp.nodes
}
run "bench" {
  nodes   = deployment.os.ok_nodes
  command = "echo ran"
}
output "deployed" {
  value = deployment.os.ok_nodes
}
`
	var it campaignResp
	if code := admin.do("POST", "/v1/campaigns", map[string]any{"source": src}, &it); code != 201 {
		t.Fatalf("submit = %d %s %+v", code, it.Detail, it.Errors)
	}
	done := admin.waitCampaign(it.UID, 90*time.Second, "succeeded", "failed", "canceled")
	if done.State != "succeeded" {
		t.Fatalf("campaign %s: %s %+v", done.State, done.Reason, done.Steps)
	}
	var deployed []string
	if err := json.Unmarshal(done.Outputs["deployed"], &deployed); err != nil || len(deployed) != 2 {
		t.Fatalf("deployed output %s", done.Outputs["deployed"])
	}
	// The nodes run the deployed environment.
	var info struct {
		Environment struct{ Name string }
	}
	admin.do("GET", "/v1/nodes/"+deployed[0]+"/info", nil, &info)
	if !strings.HasPrefix(info.Environment.Name, "debian12-min") {
		t.Fatalf("node %s runs %q", deployed[0], info.Environment.Name)
	}
}
