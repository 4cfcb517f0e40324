package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gridflow/gridflow/engine/store"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// devProcess runs `gridflow dev` in-process until stop is called.
type devProcess struct {
	api, ui  string
	temporal string
	cancel   context.CancelFunc
	done     chan error
}

func startDev(t *testing.T, dataDir string, extra ...string) *devProcess {
	t.Helper()
	d := &devProcess{api: freeAddr(t), ui: freeAddr(t), temporal: freeAddr(t), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	args := append([]string{"gridflow", "dev", "--data-dir", dataDir, "--listen", d.api, "--ui-listen", d.ui,
		"--temporal-listen", d.temporal, "--log-level", "warn"}, extra...)
	go func() { d.done <- newApp().RunContext(ctx, args) }()
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case err := <-d.done:
			t.Fatalf("gridflow dev exited during start: %v", err)
		default:
		}
		if res, err := http.Get("http://" + d.api + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return d
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("gridflow dev not ready after 90s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (d *devProcess) stop(t *testing.T) {
	t.Helper()
	d.cancel()
	select {
	case err := <-d.done:
		if err != nil {
			t.Fatalf("gridflow dev stopped with an error: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("gridflow dev did not stop within 60s of Ctrl-C")
	}
}

func get(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// TestDevRoleServesAndRestartKeepsData is the README's promise: one command
// gives the API, the docs, the Temporal UI; a restart on the same data dir keeps
// everything (users, tokens, testbed versions, Temporal history).
func TestDevRoleServesAndRestartKeepsData(t *testing.T) {
	store.BcryptCost = bcrypt.MinCost
	dataDir := t.TempDir()
	d := startDev(t, dataDir)
	tokBytes, err := os.ReadFile(filepath.Join(dataDir, "admin-token"))
	if err != nil {
		t.Fatalf("no admin token kept in the data dir: %v", err)
	}
	token := strings.TrimSpace(string(tokBytes))
	api := "http://" + d.api

	code, body := get(t, api+"/v1/sites", token)
	if code != 200 {
		t.Fatalf("GET /v1/sites = %d %s", code, body)
	}
	var sites struct{ Total int }
	if err := json.Unmarshal(body, &sites); err != nil || sites.Total < 3 {
		t.Fatalf("built-in testbed has %d sites (%v)", sites.Total, err)
	}
	if code, _ := get(t, api+"/v1/sites", ""); code != 401 {
		t.Fatalf("unauthenticated GET = %d, want 401", code)
	}
	if code, body := get(t, api+"/docs", ""); code != 200 || !strings.Contains(string(body), "swagger-ui") {
		t.Fatalf("docs page = %d", code)
	}
	if code, body := get(t, "http://"+d.ui+"/", ""); code != 200 || !strings.Contains(strings.ToLower(string(body)), "<html") {
		t.Fatalf("Temporal UI = %d %.200s", code, body)
	}
	// Workflow metrics reach /metrics (the worker polls as soon as it starts).
	if code, body := get(t, api+"/metrics", ""); code != 200 || !strings.Contains(string(body), `task_queue="gridflow"`) {
		t.Fatalf("metrics lack the worker's Temporal metrics: %d", code)
	}
	// Some state to keep across the restart.
	req, _ := http.NewRequest("POST", api+"/v1/users", strings.NewReader(`{"name":"alice","password":"alice-password"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("create user: %v %v", err, res)
	}
	res.Body.Close()
	_, versions := get(t, api+"/v1/versions", token)

	d.stop(t)
	if _, err := http.Get(api + "/healthz"); err == nil {
		t.Fatal("API still answers after stop")
	}

	d2 := startDev(t, dataDir)
	defer d2.stop(t)
	api2 := "http://" + d2.api
	if code, body := get(t, api2+"/v1/users/alice", token); code != 200 {
		t.Fatalf("after restart, alice = %d %s (the admin token must survive too)", code, body)
	}
	if _, again := get(t, api2+"/v1/versions", token); string(again) != string(versions) {
		t.Fatalf("restart with the same testbed changed the versions:\n%s\n%s", versions, again)
	}
}

func TestDevRefusesBadTestbedWithDiagnostics(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.hcl")
	if err := os.WriteFile(bad, []byte("site \"x\" {\n  cluster \"c\" {\n    nodes { count = -1 }\n  }\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := newApp().Run([]string{"gridflow", "dev", "--data-dir", filepath.Join(dir, "data"), "--listen", freeAddr(t),
		"--ui-listen", freeAddr(t), "--temporal-listen", freeAddr(t), "--testbed", bad, "--log-level", "error"})
	if err == nil || !strings.Contains(err.Error(), "bad.hcl:3:") {
		t.Fatalf("want a diagnostic at bad.hcl:3, got %v", err)
	}
}

func TestDevNamesTheFlagOfABusyPort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	for _, c := range []struct{ flag string }{{"listen"}, {"ui-listen"}, {"temporal-listen"}} {
		args := map[string]string{"listen": freeAddr(t), "ui-listen": freeAddr(t), "temporal-listen": freeAddr(t)}
		args[c.flag] = busy.Addr().String()
		err := newApp().Run([]string{"gridflow", "dev", "--data-dir", dir, "--log-level", "error",
			"--listen", args["listen"], "--ui-listen", args["ui-listen"], "--temporal-listen", args["temporal-listen"]})
		if err == nil || !strings.Contains(err.Error(), "--"+c.flag) || strings.Count(err.Error(), "\n") > 0 {
			t.Errorf("busy %s: want a one-line error naming --%s, got %v", c.flag, c.flag, err)
		}
	}
}
