package agent

import (
	"net/http"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestNewRefusesEmptyToken(t *testing.T) {
	if _, err := New(Config{DataDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "token") {
		t.Fatalf("New without token: %v, want an error about the token", err)
	}
}

func TestAuthorization(t *testing.T) {
	ta := newTestAgent(t, nil)
	for _, tc := range []struct {
		name, header string
		want         int
	}{
		{"none", "", http.StatusUnauthorized},
		{"wrong token", "Bearer nope", http.StatusUnauthorized},
		{"prefix of token", "Bearer " + testToken[:5], http.StatusUnauthorized},
		{"basic scheme", "Basic " + testToken, http.StatusUnauthorized},
		{"right token", "Bearer " + testToken, http.StatusOK},
		{"scheme case", "bearer " + testToken, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, ta.srv.URL+"/v1/info", nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	// Everything is behind the token, files and unknown paths included.
	req, _ := http.NewRequest(http.MethodGet, ta.srv.URL+"/v1/files/x", nil)
	resp, _ := http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("file without token: %d", resp.StatusCode)
	}
}

func TestInfoReportsRealHostFacts(t *testing.T) {
	ta := newTestAgent(t, nil)
	var info Info
	if st := ta.call(http.MethodGet, "/v1/info", nil, &info); st != http.StatusOK {
		t.Fatalf("status %d", st)
	}
	host, _ := os.Hostname()
	if info.Hostname != host || info.CPUs != runtime.NumCPU() {
		t.Errorf("hostname %q cpus %d, want %q %d", info.Hostname, info.CPUs, host, runtime.NumCPU())
	}
	m := info.Memory
	if m.Total == 0 || m.Available == 0 || m.Free == 0 || m.Active == 0 {
		t.Fatalf("memory has zero fields: %+v", m)
	}
	if m.Used != m.Total-m.Available || m.Available > m.Total || m.Free > m.Total {
		t.Errorf("memory inconsistent: %+v", m)
	}
	if want := float64(m.Used) / float64(m.Total) * 100; m.UsedPercent != want || m.UsedPercent <= 0 || m.UsedPercent >= 100 {
		t.Errorf("usedPercent %v, want %v", m.UsedPercent, want)
	}
	// An independent source: the kernel's sysinfo(2).
	var si syscall.Sysinfo_t
	if err := syscall.Sysinfo(&si); err != nil {
		t.Fatal(err)
	}
	if want := uint64(si.Totalram) * uint64(si.Unit); m.Total != want {
		t.Errorf("total %d, sysinfo says %d", m.Total, want)
	}
	up := time.Duration(si.Uptime) * time.Second
	if d := time.Duration(info.UptimeSeconds*float64(time.Second)) - up; d < -2*time.Second || d > 2*time.Second {
		t.Errorf("uptime %.0fs, sysinfo says %s", info.UptimeSeconds, up)
	}
	if info.Load.One < 0 || info.Generation != 1 || info.BootID == "" || info.AgentID == "" {
		t.Errorf("info %+v", info)
	}
	if d := info.Disk; d.Total == 0 || d.Available == 0 || d.Used != d.Total-d.Free || d.Path != ta.dir {
		t.Errorf("disk %+v", d)
	}
	if info.Environment != nil || info.Containers {
		t.Errorf("fresh agent without docker reports environment %+v, containers %v", info.Environment, info.Containers)
	}
}

func TestParseMeminfoG8osExample(t *testing.T) {
	// The memory of the g8os example node, as its kernel would print it.
	src := "MemTotal:        2053428 kB\nMemFree:         1486312 kB\nMemAvailable:    1420648 kB\n" +
		"Buffers:               0 kB\nCached:           363700 kB\nSwapCached:            0 kB\n" +
		"Active:           192516 kB\nInactive:         315628 kB\nHugePages_Total:       0\n"
	m, err := parseMeminfo([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := Memory{Total: 2102710272, Available: 1454743552, Used: 647966720, Free: 1521983488,
		Cached: 372428800, Buffers: 0, Active: 197136384, Inactive: 323203072}
	want.UsedPercent = m.UsedPercent
	if m != want {
		t.Fatalf("got %+v\nwant %+v", m, want)
	}
	if m.UsedPercent < 30.8157 || m.UsedPercent > 30.8158 {
		t.Fatalf("usedPercent %v, the g8os example says 30.8157…", m.UsedPercent)
	}
	if _, err := parseMeminfo([]byte("MemFree: 1 kB\n")); err == nil {
		t.Fatal("meminfo without MemTotal accepted")
	}
}

func TestParseProcStatOddName(t *testing.T) {
	st, err := parseProcStat("42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 12345 1000 10\n")
	if err != nil {
		t.Fatal(err)
	}
	if st.state != 'S' || st.pgrp != 42 || st.utime != 7 || st.stime != 3 || st.start != 12345 {
		t.Fatalf("%+v", st)
	}
}

func TestRebootBumpsGenerationAndResetsUptime(t *testing.T) {
	ta := newTestAgent(t, nil)
	var before, after Info
	ta.call(http.MethodGet, "/v1/info", nil, &before)
	var p Process
	if st := ta.call(http.MethodPost, "/v1/processes", ProcessRequest{ID: "long", Name: "sleep", Args: []string{"60"}}, &p); st != http.StatusCreated {
		t.Fatalf("start: %d", st)
	}
	if st := ta.call(http.MethodPost, "/v1/reboot", nil, &after); st != http.StatusOK {
		t.Fatalf("reboot: %d", st)
	}
	if after.Generation != before.Generation+1 {
		t.Errorf("generation %d → %d", before.Generation, after.Generation)
	}
	if after.UptimeSeconds > 5 || !after.BootTime.After(before.BootTime) {
		t.Errorf("uptime %.1fs boot %s after reboot (before: %.1fs, %s)", after.UptimeSeconds, after.BootTime, before.UptimeSeconds, before.BootTime)
	}
	if after.BootID != before.BootID {
		t.Error("a simulated reboot changed the kernel boot id")
	}
	ta.call(http.MethodGet, "/v1/processes/long", nil, &p)
	if p.State != StateExited || p.Signal != "SIGTERM" {
		t.Errorf("process after reboot: %+v", p)
	}
	if _, err := os.Stat("/proc/" + itoa(p.PID)); err == nil {
		if st, err := readProcStat(p.PID); err == nil && st.state != 'Z' && st.pgrp == p.PID {
			t.Errorf("process %d still alive after reboot", p.PID)
		}
	}

	// A retried reboot that names the generation it started from does not
	// reboot again.
	var again Info
	ta.call(http.MethodPost, "/v1/reboot", RebootRequest{IfGeneration: before.Generation}, &again)
	if again.Generation != after.Generation {
		t.Errorf("conditional reboot from a past generation rebooted: %d → %d", after.Generation, again.Generation)
	}
	ta.call(http.MethodPost, "/v1/reboot", RebootRequest{IfGeneration: after.Generation}, &again)
	if again.Generation != after.Generation+1 {
		t.Errorf("conditional reboot from the current generation: %d → %d", after.Generation, again.Generation)
	}

	// The generation survives an agent restart on the same data directory.
	ta.a.Close()
	a2, err := New(Config{DataDir: ta.dir, Token: testToken, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer a2.Close()
	info, err := a2.Info()
	if err != nil {
		t.Fatal(err)
	}
	if info.Generation != again.Generation || info.AgentID != before.AgentID {
		t.Errorf("after restart: generation %d agent %s, want %d %s", info.Generation, info.AgentID, again.Generation, before.AgentID)
	}
}
