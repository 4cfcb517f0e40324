package main

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestChildDev is not a test: it is the body of the child process that
// TestCampaignSurvivesKill9 starts and kills. It runs only when asked to.
func TestChildDev(t *testing.T) {
	args := os.Getenv("GRIDFLOW_TEST_CHILD_DEV")
	if args == "" {
		t.Skip("runs only as the child process of TestCampaignSurvivesKill9")
	}
	if err := newApp().Run(append([]string{"gridflow", "dev"}, strings.Split(args, "\x1f")...)); err != nil {
		t.Fatal(err)
	}
}

// startChildDev runs `gridflow dev` in a child process (this test binary) so
// that it can be killed with SIGKILL, as a crash would.
func startChildDev(t *testing.T, dataDir, api string) *exec.Cmd {
	t.Helper()
	args := []string{"--data-dir", dataDir, "--listen", api, "--ui-listen", freeAddr(t), "--temporal-listen", freeAddr(t),
		"--testbed", filepath.Join("testdata", "tiny.hcl"), "--admin-token", "gft_reservation-test-admin-token", "--log-level", "warn"}
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildDev$", "-test.timeout=10m")
	cmd.Env = append(os.Environ(), "GRIDFLOW_TEST_CHILD_DEV="+strings.Join(args, "\x1f"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		if res, err := http.Get("http://" + api + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return cmd
			}
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatal("child gridflow dev not ready after 90s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestCampaignSurvivesKill9 kills gridflow dev with SIGKILL in the middle of a
// campaign, starts it again on the same data dir, and checks that the
// campaign finishes and that no completed step ran again.
func TestCampaignSurvivesKill9(t *testing.T) {
	dataDir := t.TempDir()
	api := freeAddr(t)
	child := startChildDev(t, dataDir, api)
	admin := apiClient{t: t, base: "http://" + api, token: "gft_reservation-test-admin-token"}
	src := `
reservation "r" {
  site     = "s"
  nodes    = 2
  cluster  = "a"
  walltime = "30m"
}
run "first" {
  nodes   = reservation.r.nodes
  command = "echo one"
}
run "long" {
  nodes   = reservation.r.nodes
  command = "sleep 6"
  depends_on = [run.first]
}
run "last" {
  nodes   = reservation.r.nodes
  command = "echo done"
  depends_on = [run.long]
}
output "said" {
  value = run.last.stdout
}
`
	var it campaignResp
	if code := admin.do("POST", "/v1/campaigns", map[string]any{"source": src}, &it); code != 201 {
		t.Fatalf("submit = %d %+v", code, it)
	}
	// Kill once run.long is running: reservation.r and run.first are done.
	deadline := time.Now().Add(60 * time.Second)
	for {
		var cur campaignResp
		admin.do("GET", "/v1/campaigns/"+it.UID, nil, &cur)
		if len(cur.Steps) == 4 && cur.Steps[2].State == "running" {
			break
		}
		if time.Now().After(deadline) || cur.State == "failed" {
			_ = child.Process.Kill()
			t.Fatalf("run.long never ran: %s %+v", cur.State, cur.Steps)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()

	child = startChildDev(t, dataDir, api)
	defer func() { _ = child.Process.Signal(syscall.SIGINT); _ = child.Wait() }()
	done := admin.waitCampaign(it.UID, 90*time.Second, "succeeded", "failed", "canceled")
	if done.State != "succeeded" {
		t.Fatalf("after kill -9 and restart the campaign is %s: %s %+v", done.State, done.Reason, done.Steps)
	}
	for _, s := range done.Steps[:2] {
		if s.Attempts != 1 {
			t.Fatalf("completed step %s ran %d times", s.Address, s.Attempts)
		}
	}
	var said string
	if err := json.Unmarshal(done.Outputs["said"], &said); err != nil || strings.TrimSpace(said) != "done" {
		t.Fatalf("output said = %s", done.Outputs["said"])
	}
	// The reservation step's side effect happened once: one reservation.
	var rs struct{ Total int }
	admin.do("GET", "/v1/reservations", nil, &rs)
	if rs.Total != 1 {
		t.Fatalf("%d reservations after the restart, want 1", rs.Total)
	}
}
