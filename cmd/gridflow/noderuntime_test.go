package main

import (
	"strings"
	"testing"
	"time"
)

type procResp struct {
	ID       string `json:"id"`
	State    string `json:"state"`
	ExitCode *int   `json:"exitCode"`
	Output   *struct {
		Stdout []byte `json:"stdout"`
	} `json:"output"`
	Detail string
}

func TestProcessesOnReservedNodes(t *testing.T) {
	d, admin := startTinyDev(t, t.TempDir())
	defer d.stop(t)
	admin.do("POST", "/v1/users", map[string]any{"name": "alice", "password": "alice-password"}, nil)
	var tok struct{ Token string }
	admin.do("POST", "/v1/users/alice/tokens", map[string]any{"ttl": "1h"}, &tok)
	alice := apiClient{t: t, base: admin.base, token: tok.Token}

	// Without a reservation, alice may not run anything.
	var p procResp
	if code := alice.do("POST", "/v1/nodes/a-1/processes", map[string]any{"name": "echo", "args": []string{"hi"}}, &p); code != 403 {
		t.Fatalf("process without reservation = %d %s", code, p.Detail)
	}
	_, r := alice.reserve(map[string]any{"nodes": 1, "cluster": "a", "walltime": "1h"})
	alice.waitState(r.UID, "running", 20*time.Second)
	node := r.Nodes[0]

	var info struct {
		Memory struct{ Total, Available, Used uint64 }
		CPUs   int
	}
	if code := alice.do("GET", "/v1/nodes/"+node+"/info", nil, &info); code != 200 || info.Memory.Total == 0 || info.Memory.Used != info.Memory.Total-info.Memory.Available {
		t.Fatalf("info = %d %+v", code, info)
	}
	var started procResp
	if code := alice.do("POST", "/v1/nodes/"+node+"/processes", map[string]any{"name": "echo", "args": []string{"hi"}}, &started); code != 201 {
		t.Fatalf("start = %d %s", code, started.Detail)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		p = procResp{}
		alice.do("GET", "/v1/nodes/"+node+"/processes/"+started.ID, nil, &p)
		if p.State == "exited" || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if p.State != "exited" || p.ExitCode == nil || *p.ExitCode != 0 || p.Output == nil || strings.TrimSpace(string(p.Output.Stdout)) != "hi" {
		t.Fatalf("process %+v", p)
	}
	// A long process is stopped when the reservation ends.
	var long procResp
	alice.do("POST", "/v1/nodes/"+node+"/processes", map[string]any{"name": "sleep", "args": []string{"300"}}, &long)
	alice.do("DELETE", "/v1/sites/s/reservations/"+r.UID, nil, nil)
	alice.waitState(r.UID, "canceled", 20*time.Second)
	var after procResp
	admin.do("GET", "/v1/nodes/"+node+"/processes/"+long.ID, nil, &after)
	if after.State == "running" {
		t.Fatalf("the reservation ended but its process still runs: %+v", after)
	}
	// Alice's reservation is over: her processes are hers no more to touch.
	if code := alice.do("GET", "/v1/nodes/"+node+"/processes/"+long.ID, nil, nil); code != 403 {
		t.Fatalf("after the end = %d, want 403", code)
	}
}
