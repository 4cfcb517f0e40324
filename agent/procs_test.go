package agent

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// waitExited polls a process until it leaves the running state.
func (ta *tagent) waitExited(id string) Process {
	ta.t.Helper()
	var p Process
	eventually(ta.t, 10*time.Second, "process "+id+" to exit", func() bool {
		if st := ta.call(http.MethodGet, "/v1/processes/"+id, nil, &p); st != http.StatusOK {
			ta.t.Fatalf("status of %s: %d", id, st)
		}
		return p.State != StateRunning
	})
	return p
}

func alive(pid int) bool {
	st, err := readProcStat(pid)
	return err == nil && st.state != 'Z'
}

func TestProcessExitCodeAndOutput(t *testing.T) {
	t.Setenv("GRIDFLOW_AGENT_TOKEN", "secret-that-must-not-leak")
	ta := newTestAgent(t, nil)
	var p Process
	st := ta.call(http.MethodPost, "/v1/processes", ProcessRequest{
		ID: "job-1", Name: "/bin/sh",
		Args: []string{"-c", `echo "out $GREETING"; echo err >&2; pwd; env | grep -c GRIDFLOW_ || true; exit 3`},
		Env:  map[string]string{"GREETING": "hello"}, Reservation: "r1",
	}, &p)
	if st != http.StatusCreated || p.ID != "job-1" || p.PID <= 0 || p.State != StateRunning || p.Reservation != "r1" {
		t.Fatalf("start: %d %+v", st, p)
	}
	p = ta.waitExited("job-1")
	if p.State != StateExited || p.ExitCode == nil || *p.ExitCode != 3 || p.Signal != "" || p.Ended == nil || p.Ended.Before(p.Started) {
		t.Fatalf("exited process: %+v", p)
	}
	var out Output
	ta.call(http.MethodGet, "/v1/processes/job-1/output", nil, &out)
	wantOut := "out hello\n" + filepath.Join(ta.dir, "files") + "\n0\n"
	if out.Stdout != wantOut || out.Stderr != "err\n" || out.Truncated || out.StdoutSize != int64(len(wantOut)) {
		t.Fatalf("output %+v, want stdout %q", out, wantOut)
	}
	resp := ta.do(http.MethodGet, "/v1/processes/job-1/output/stdout?offset=4", nil)
	raw := readAll(t, resp)
	if string(raw) != wantOut[4:] {
		t.Fatalf("raw stdout from offset 4: %q", raw)
	}

	// A program that does not exist is refused, and leaves no record.
	if st := ta.call(http.MethodPost, "/v1/processes", ProcessRequest{ID: "nope", Name: "/does/not/exist"}, nil); st != http.StatusUnprocessableEntity {
		t.Fatalf("missing program: %d", st)
	}
	if st := ta.call(http.MethodGet, "/v1/processes/nope", nil, nil); st != http.StatusNotFound {
		t.Fatalf("status of a process that never started: %d", st)
	}
	for _, bad := range []ProcessRequest{{ID: "../x", Name: "true"}, {ID: "ok"}, {ID: "ok2", Name: "true", Env: map[string]string{"A=B": "c"}}} {
		if st := ta.call(http.MethodPost, "/v1/processes", bad, nil); st != http.StatusBadRequest {
			t.Errorf("%+v: %d, want 400", bad, st)
		}
	}
}

func TestProcessStartIsIdempotent(t *testing.T) {
	ta := newTestAgent(t, nil)
	req := ProcessRequest{ID: "once", Name: "/bin/sh", Args: []string{"-c", "echo ran >> runs; sleep 60"}}
	var first, second Process
	if st := ta.call(http.MethodPost, "/v1/processes", req, &first); st != http.StatusCreated {
		t.Fatalf("first start: %d", st)
	}
	if st := ta.call(http.MethodPost, "/v1/processes", req, &second); st != http.StatusOK {
		t.Fatalf("retried start: %d, want 200", st)
	}
	if second.PID != first.PID || !second.Started.Equal(first.Started) {
		t.Fatalf("retried start returned another process: %+v vs %+v", second, first)
	}
	other := req
	other.Args = []string{"-c", "true"}
	if st := ta.call(http.MethodPost, "/v1/processes", other, nil); st != http.StatusConflict {
		t.Fatalf("same id, other command: %d, want 409", st)
	}
	runs := filepath.Join(ta.dir, "files", "runs")
	eventually(t, 5*time.Second, "the process to write", func() bool { b, _ := os.ReadFile(runs); return len(b) > 0 })
	if b, _ := os.ReadFile(runs); string(b) != "ran\n" {
		t.Fatalf("the command ran %q", b)
	}
	// Without an id the agent names the process.
	var anon Process
	if st := ta.call(http.MethodPost, "/v1/processes", ProcessRequest{Name: "true"}, &anon); st != http.StatusCreated || anon.ID == "" {
		t.Fatalf("anonymous start: %d %+v", st, anon)
	}
}

func TestKillStopsTheProcessGroup(t *testing.T) {
	ta := newTestAgent(t, nil)
	// A shell with two children of its own: all three must die.
	var p Process
	ta.call(http.MethodPost, "/v1/processes", ProcessRequest{ID: "tree", Name: "/bin/sh",
		Args: []string{"-c", "sleep 60 & sleep 60 & echo started; wait"}}, &p)
	eventually(t, 5*time.Second, "the children to start", func() bool {
		var out Output
		ta.call(http.MethodGet, "/v1/processes/tree/output", nil, &out)
		return out.Stdout == "started\n"
	})
	if !groupAlive(p.PID) {
		t.Fatal("process group not alive")
	}
	var list []Process
	ta.call(http.MethodGet, "/v1/processes", nil, &list)
	if len(list) != 1 || list[0].RSS <= 0 || list[0].CPUPercent < 0 {
		t.Fatalf("list: %+v", list)
	}
	var killed Process
	if st := ta.call(http.MethodDelete, "/v1/processes/tree", nil, &killed); st != http.StatusOK {
		t.Fatalf("kill: %d", st)
	}
	if killed.State != StateExited || killed.Signal != "SIGTERM" || killed.ExitCode == nil || *killed.ExitCode != -1 {
		t.Fatalf("killed: %+v", killed)
	}
	if groupAlive(p.PID) || alive(p.PID) {
		t.Fatal("members of the process group survived the kill")
	}
	// Killing again is harmless.
	if st := ta.call(http.MethodDelete, "/v1/processes/tree", nil, &killed); st != http.StatusOK || killed.State != StateExited {
		t.Fatalf("second kill: %d %+v", st, killed)
	}
	if st := ta.call(http.MethodDelete, "/v1/processes/ghost", nil, nil); st != http.StatusNotFound {
		t.Fatalf("kill unknown: %d", st)
	}
}

func TestKillEscalatesToSIGKILL(t *testing.T) {
	ta := newTestAgent(t, nil)
	var p Process
	ta.call(http.MethodPost, "/v1/processes", ProcessRequest{ID: "stubborn", Name: "/bin/sh",
		Args: []string{"-c", `trap "" TERM; echo ready; while :; do sleep 0.05; done`}}, &p)
	eventually(t, 5*time.Second, "the trap to be set", func() bool {
		var out Output
		ta.call(http.MethodGet, "/v1/processes/stubborn/output", nil, &out)
		return out.Stdout == "ready\n"
	})
	start := time.Now()
	var killed Process
	ta.call(http.MethodDelete, "/v1/processes/stubborn?grace=300ms", nil, &killed)
	if killed.State != StateExited || killed.Signal != "SIGKILL" {
		t.Fatalf("killed: %+v", killed)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("SIGKILL came after %s, before the grace period", d)
	}
	if alive(p.PID) || groupAlive(p.PID) {
		t.Fatal("process survived SIGKILL")
	}
}

func TestOutputIsBounded(t *testing.T) {
	ta := newTestAgent(t, func(c *Config) { c.OutputLimit = 16 })
	ta.call(http.MethodPost, "/v1/processes", ProcessRequest{ID: "chatty", Name: "/bin/sh",
		Args: []string{"-c", "i=0; while [ $i -lt 10 ]; do echo line-$i; i=$((i+1)); done"}}, nil)
	ta.waitExited("chatty")
	var out Output
	ta.call(http.MethodGet, "/v1/processes/chatty/output?limit=1000", nil, &out)
	if !out.Truncated || len(out.Stdout) != 16 || out.StdoutSize != 70 || !strings.HasSuffix(out.Stdout, "line-8\nline-9\n") {
		t.Fatalf("output %+v", out)
	}
	ta.call(http.MethodGet, "/v1/processes/chatty/output?limit=7", nil, &out)
	if out.Stdout != "line-9\n" {
		t.Fatalf("limit=7: %q", out.Stdout)
	}
}

func TestStopReservation(t *testing.T) {
	ta := newTestAgent(t, nil)
	for _, r := range []ProcessRequest{
		{ID: "a", Name: "sleep", Args: []string{"60"}, Reservation: "r1"},
		{ID: "b", Name: "sleep", Args: []string{"60"}, Reservation: "r1"},
		{ID: "c", Name: "sleep", Args: []string{"60"}, Reservation: "r2"},
	} {
		if st := ta.call(http.MethodPost, "/v1/processes", r, nil); st != http.StatusCreated {
			t.Fatalf("start %s: %d", r.ID, st)
		}
	}
	var res StopResult
	if st := ta.call(http.MethodDelete, "/v1/reservations/r1", nil, &res); st != http.StatusOK || res.Processes != 2 {
		t.Fatalf("stop r1: %d %+v", st, res)
	}
	var list []Process
	ta.call(http.MethodGet, "/v1/processes?reservation=r1", nil, &list)
	for _, p := range list {
		if p.State != StateExited {
			t.Errorf("%s of r1: %s", p.ID, p.State)
		}
	}
	var c Process
	ta.call(http.MethodGet, "/v1/processes/c", nil, &c)
	if c.State != StateRunning {
		t.Fatalf("process of r2: %s", c.State)
	}
}

func TestProcessesSurviveAgentRestart(t *testing.T) {
	ta := newTestAgent(t, nil)
	var p Process
	ta.call(http.MethodPost, "/v1/processes", ProcessRequest{ID: "keep", Name: "sleep", Args: []string{"60"}}, &p)
	ta.call(http.MethodPost, "/v1/processes", ProcessRequest{ID: "done", Name: "true"}, nil)
	ta.waitExited("done")
	ta.a.Close()

	a2, err := New(Config{DataDir: ta.dir, Token: testToken, Logger: quietLogger(), KillGrace: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer a2.Close()
	pr, ok := a2.procs.get("keep")
	if !ok {
		t.Fatal("restarted agent forgot the process")
	}
	if st := a2.procs.status(pr); st.State != StateRunning || st.PID != p.PID {
		t.Fatalf("adopted: %+v", st)
	}
	d, _ := a2.procs.get("done")
	if st := a2.procs.status(d); st.State != StateExited || st.ExitCode == nil || *st.ExitCode != 0 {
		t.Fatalf("finished process after restart: %+v", st)
	}
	// A retried start after the restart still starts nothing.
	if _, created, err := a2.procs.start(ProcessRequest{ID: "keep", Name: "sleep", Args: []string{"60"}}); err != nil || created {
		t.Fatalf("retried start after restart: created=%v err=%v", created, err)
	}
	killed := a2.procs.kill(pr, time.Second)
	if killed.State != StateExited || alive(p.PID) {
		t.Fatalf("kill of an adopted process: %+v", killed)
	}
}

// A start that may wait answers once the process ended, with its exit
// code, or when the wait is over, with the process still running.
func TestProcessStartWaits(t *testing.T) {
	ta := newTestAgent(t, nil)
	var p Process
	if st := ta.call(http.MethodPost, "/v1/processes?wait=5s", ProcessRequest{ID: "short", Name: "/bin/sh", Args: []string{"-c", "exit 7"}}, &p); st != http.StatusCreated {
		t.Fatalf("start short: %d", st)
	}
	if p.State != StateExited || p.ExitCode == nil || *p.ExitCode != 7 {
		t.Fatalf("a short command after a wait: %+v, want exited 7", p)
	}
	t0 := time.Now()
	p = Process{}
	if st := ta.call(http.MethodPost, "/v1/processes?wait=150ms", ProcessRequest{ID: "long", Name: "sleep", Args: []string{"30"}}, &p); st != http.StatusCreated {
		t.Fatalf("start long: %d", st)
	}
	if d := time.Since(t0); p.State != StateRunning || d < 150*time.Millisecond || d > 5*time.Second {
		t.Fatalf("a long command: %+v answered after %v, want running after the 150ms wait", p, d)
	}
	ta.call(http.MethodDelete, "/v1/processes/long?grace=0s", nil, nil)
	if st := ta.call(http.MethodPost, "/v1/processes?wait=soon", ProcessRequest{ID: "bad", Name: "true"}, nil); st != http.StatusBadRequest {
		t.Fatalf("an invalid wait: %d, want 400", st)
	}
}
