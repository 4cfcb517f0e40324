package agent

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of the times in /proc/<pid>/stat. It is 100
// on every Linux architecture Gridflow runs on.
const clockTicks = 100

// procManager runs and tracks the managed processes. Each process gets its own
// process group, so that a kill reaches its children too, and writes its
// output straight into files under DataDir/procs/<id>: output survives an
// agent restart, and so does the process.
type procManager struct {
	a     *Agent
	mu    sync.Mutex
	procs map[string]*proc
	stop  chan struct{}
	wg    sync.WaitGroup
}

type proc struct {
	rec        Process // guarded by procManager.mu
	startTicks uint64  // the leader's start time, to recognise its pid
	done       chan struct{}
}

// procRecord is the persisted form of a process (procs/<id>/meta.json).
type procRecord struct {
	Process
	StartTicks uint64 `json:"startTicks"`
}

func newProcManager(a *Agent) *procManager {
	return &procManager{a: a, procs: map[string]*proc{}, stop: make(chan struct{})}
}

func (m *procManager) dir(id string) string { return filepath.Join(m.a.procDir, id) }

// load reads the records a previous run left. A process that still runs is
// adopted: the agent can still kill it and sees it end, but not its exit code.
func (m *procManager) load() error {
	entries, err := os.ReadDir(m.a.procDir)
	if err != nil {
		return fmt.Errorf("agent: read process records: %w", err)
	}
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(m.a.procDir, e.Name(), "meta.json"))
		if err != nil {
			continue // a start that did not finish
		}
		var rec procRecord
		if err := json.Unmarshal(raw, &rec); err != nil || rec.ID != e.Name() {
			m.a.log.Warn("ignoring corrupt process record", "dir", e.Name(), "error", err)
			continue
		}
		p := &proc{rec: rec.Process, startTicks: rec.StartTicks, done: make(chan struct{})}
		m.procs[rec.ID] = p
		if rec.State != StateRunning {
			close(p.done)
			continue
		}
		if st, err := readProcStat(rec.PID); err == nil && st.start == rec.StartTicks && st.state != 'Z' {
			m.wg.Add(1)
			go m.watchAdopted(p)
			continue
		}
		p.rec.State = StateLost
		m.persist(p)
		close(p.done)
	}
	return nil
}

// watchAdopted polls a process the agent did not start in this run.
func (m *procManager) watchAdopted(p *proc) {
	defer m.wg.Done()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		st, err := readProcStat(p.rec.PID)
		if err == nil && st.start == p.startTicks && st.state != 'Z' {
			continue
		}
		now := time.Now()
		m.mu.Lock()
		p.rec.State, p.rec.Ended = StateExited, &now
		m.persistLocked(p)
		m.mu.Unlock()
		close(p.done)
		return
	}
}

func (m *procManager) close() {
	close(m.stop)
	m.wg.Wait()
}

func (m *procManager) persist(p *proc) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.persistLocked(p)
}

func (m *procManager) persistLocked(p *proc) {
	raw, _ := json.MarshalIndent(procRecord{Process: p.rec, StartTicks: p.startTicks}, "", "  ")
	if err := writeFileAtomic(filepath.Join(m.dir(p.rec.ID), "meta.json"), raw); err != nil {
		m.a.log.Error("cannot record process", "id", p.rec.ID, "error", err)
	}
}

// errConflict: a request reuses an id for something else.
var errConflict = errors.New("conflict")

// sameRequest reports whether a repeated start asks for the same process.
func sameRequest(p Process, r ProcessRequest) bool {
	return p.Name == r.Name && slices.Equal(p.Args, r.Args) && maps.Equal(p.Env, r.Env) &&
		p.Pwd == r.Pwd && p.Reservation == r.Reservation
}

// start starts the process of r, or returns the one already started under r.ID.
func (m *procManager) start(r ProcessRequest) (Process, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p, ok := m.procs[r.ID]; ok {
		if !sameRequest(p.rec, r) {
			return Process{}, false, fmt.Errorf("%w: process %q already exists with another command; pick another id", errConflict, r.ID)
		}
		return p.rec, false, nil
	}
	dir := m.dir(r.ID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Process{}, false, err
	}
	stdout, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		return Process{}, false, err
	}
	defer stdout.Close()
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		return Process{}, false, err
	}
	defer stderr.Close()

	cmd := exec.Command(r.Name, r.Args...)
	cmd.Dir = m.workDir(r.Pwd)
	cmd.Env = processEnv(r.Env)
	cmd.Stdin = nil // /dev/null
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return Process{}, false, fmt.Errorf("%w: %v", errStart, err)
	}
	m.a.stateMu.Lock()
	gen := m.a.state.Generation
	m.a.stateMu.Unlock()
	p := &proc{
		rec: Process{ID: r.ID, Name: r.Name, Args: r.Args, Env: r.Env, Pwd: r.Pwd, Reservation: r.Reservation,
			PID: cmd.Process.Pid, State: StateRunning, Started: time.Now(), Generation: gen},
		done: make(chan struct{}),
	}
	if st, err := readProcStat(p.rec.PID); err == nil {
		p.startTicks = st.start
	}
	m.procs[r.ID] = p
	m.persistLocked(p)
	go m.wait(p, cmd)
	return p.rec, true, nil
}

var errStart = errors.New("cannot start process")

func (m *procManager) workDir(pwd string) string {
	files := filepath.Join(m.a.cfg.DataDir, "files")
	switch {
	case pwd == "":
		return files
	case filepath.IsAbs(pwd):
		return pwd
	default:
		return filepath.Join(files, pwd)
	}
}

// processEnv is the agent's environment without its own GRIDFLOW_* settings
// (the token among them), plus the request's variables.
func processEnv(extra map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GRIDFLOW_") {
			env = append(env, kv)
		}
	}
	keys := slices.Sorted(maps.Keys(extra))
	for _, k := range keys {
		env = append(env, k+"="+extra[k])
	}
	return env
}

func (m *procManager) wait(p *proc, cmd *exec.Cmd) {
	_ = cmd.Wait()
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	now := time.Now()
	m.mu.Lock()
	code := ws.ExitStatus()
	if ws.Signaled() {
		code = -1
		p.rec.Signal = signalName(ws.Signal())
	}
	p.rec.State, p.rec.ExitCode, p.rec.Ended = StateExited, &code, &now
	m.persistLocked(p)
	m.mu.Unlock()
	close(p.done)
}

func (m *procManager) get(id string) (*proc, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.procs[id]
	return p, ok
}

// status returns the record of p with live figures while it runs.
func (m *procManager) status(p *proc) Process {
	m.mu.Lock()
	rec := p.rec
	m.mu.Unlock()
	if rec.State == StateRunning {
		rec.CPUPercent, rec.RSS = usage(rec.PID, p.startTicks)
	}
	return rec
}

func (m *procManager) list() []Process {
	m.mu.Lock()
	ps := slices.Collect(maps.Values(m.procs))
	m.mu.Unlock()
	out := make([]Process, 0, len(ps))
	for _, p := range ps {
		out = append(out, m.status(p))
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Started.Equal(out[j].Started) {
			return out[i].Started.Before(out[j].Started)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// kill stops p and its process group: SIGTERM, then SIGKILL after the grace
// period. It returns once the process has ended, or after a bounded wait.
func (m *procManager) kill(p *proc, grace time.Duration) Process {
	m.mu.Lock()
	pid, running := p.rec.PID, p.rec.State == StateRunning
	m.mu.Unlock()
	if !m.groupIsOurs(p, pid) {
		return m.status(p)
	}
	if running || groupAlive(pid) {
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		if !waitFor(grace, func() bool { return isDone(p.done) && !groupAlive(pid) }) {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			waitFor(5*time.Second, func() bool { return isDone(p.done) })
		}
	}
	return m.status(p)
}

// groupIsOurs reports whether the process group pid still belongs to p: its
// leader is p, or the leader is gone (the kernel does not reuse the id of a
// group that has members).
func (m *procManager) groupIsOurs(p *proc, pid int) bool {
	if pid <= 1 {
		return false
	}
	st, err := readProcStat(pid)
	if err != nil {
		return true
	}
	return st.start == p.startTicks
}

// killAll kills, in parallel, the running processes that keep selects and
// returns how many it killed.
func (m *procManager) killAll(keep func(*proc) bool) int {
	m.mu.Lock()
	var todo []*proc
	for _, p := range m.procs {
		if p.rec.State == StateRunning && keep(p) {
			todo = append(todo, p)
		}
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range todo {
		wg.Add(1)
		go func() { defer wg.Done(); m.kill(p, m.a.cfg.KillGrace) }()
	}
	wg.Wait()
	return len(todo)
}

func isDone(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// waitFor polls cond until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// procStat holds the fields of /proc/<pid>/stat the agent uses.
type procStat struct {
	state        byte
	pgrp         int
	utime, stime uint64
	start        uint64 // clock ticks after boot
}

func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(string(b))
}

func parseProcStat(s string) (procStat, error) {
	// The command name (field 2) may hold spaces and parentheses: the
	// fields that follow start after its last ')'.
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, errors.New("malformed stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return procStat{}, errors.New("short stat")
	}
	var st procStat
	var err error
	st.state = f[0][0]
	if st.pgrp, err = strconv.Atoi(f[2]); err != nil {
		return procStat{}, err
	}
	for _, x := range []struct {
		dst *uint64
		i   int
	}{{&st.utime, 11}, {&st.stime, 12}, {&st.start, 19}} {
		if *x.dst, err = strconv.ParseUint(f[x.i], 10, 64); err != nil {
			return procStat{}, err
		}
	}
	return st, nil
}

// usage returns the lifetime CPU percentage and the resident memory of pid.
func usage(pid int, startTicks uint64) (cpu float64, rss int64) {
	st, err := readProcStat(pid)
	if err != nil || st.start != startTicks {
		return 0, 0
	}
	if up, err := hostUptime(); err == nil {
		elapsed := up.Seconds() - float64(st.start)/clockTicks
		if elapsed > 0 {
			cpu = float64(st.utime+st.stime) / clockTicks / elapsed * 100
		}
	}
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			pages, _ := strconv.ParseInt(f[1], 10, 64)
			rss = pages * int64(os.Getpagesize())
		}
	}
	return cpu, rss
}

// groupAlive reports whether a live (non-zombie) process is in group pgid.
func groupAlive(pgid int) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readProcStat(pid); err == nil && st.pgrp == pgid && st.state != 'Z' && st.state != 'X' {
			return true
		}
	}
	return false
}

var signalNames = map[syscall.Signal]string{
	syscall.SIGHUP: "SIGHUP", syscall.SIGINT: "SIGINT", syscall.SIGQUIT: "SIGQUIT", syscall.SIGILL: "SIGILL",
	syscall.SIGTRAP: "SIGTRAP", syscall.SIGABRT: "SIGABRT", syscall.SIGBUS: "SIGBUS", syscall.SIGFPE: "SIGFPE",
	syscall.SIGKILL: "SIGKILL", syscall.SIGUSR1: "SIGUSR1", syscall.SIGSEGV: "SIGSEGV", syscall.SIGUSR2: "SIGUSR2",
	syscall.SIGPIPE: "SIGPIPE", syscall.SIGALRM: "SIGALRM", syscall.SIGTERM: "SIGTERM", syscall.SIGXCPU: "SIGXCPU",
}

func signalName(s syscall.Signal) string {
	if n, ok := signalNames[s]; ok {
		return n
	}
	return "SIG" + strconv.Itoa(int(s))
}

// tail reads at most limit bytes from the end of a file and its size.
func tail(name string, limit int64) (string, int64, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", 0, err
	}
	size := fi.Size()
	off := max(size-limit, 0)
	b := make([]byte, size-off)
	n, err := f.ReadAt(b, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", size, err
	}
	return string(b[:n]), size, nil
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// HTTP handlers.

func (a *Agent) handleStartProcess(w http.ResponseWriter, r *http.Request) {
	var req ProcessRequest
	if !decodeJSON(w, r, &req, false) {
		return
	}
	if req.ID == "" {
		req.ID = newID()
	}
	if err := validID(req.ID); err != nil {
		writeProblem(w, http.StatusBadRequest, CodeInvalid, "Invalid process id", err.Error())
		return
	}
	if req.Name == "" {
		writeProblem(w, http.StatusBadRequest, CodeInvalid, "Missing command", "name the program to run in \"name\", as in {\"name\": \"/bin/sh\", \"args\": [\"-c\", \"echo hi\"]}")
		return
	}
	for k := range req.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			writeProblem(w, http.StatusBadRequest, CodeInvalid, "Invalid environment variable", fmt.Sprintf("%q is not a variable name", k))
			return
		}
	}
	wait, err := startWait(r)
	if err != nil {
		writeProblem(w, http.StatusBadRequest, CodeInvalid, "Invalid wait", err.Error())
		return
	}
	a.lifecycle.RLock()
	p, created, err := a.procs.start(req)
	a.lifecycle.RUnlock()
	if err == nil && wait > 0 {
		// A short command ends within the wait: the answer says how, and
		// the caller needs no poll to learn it.
		if pr, ok := a.procs.get(p.ID); ok {
			t := time.NewTimer(wait)
			select {
			case <-pr.done:
			case <-t.C:
			case <-r.Context().Done():
			}
			t.Stop()
			p = a.procs.status(pr)
		}
	}
	switch {
	case errors.Is(err, errConflict):
		writeProblem(w, http.StatusConflict, CodeConflict, "Process id in use", err.Error())
	case errors.Is(err, errStart):
		writeProblem(w, http.StatusUnprocessableEntity, CodeFailed, "Cannot start process", err.Error())
	case err != nil:
		writeProblem(w, http.StatusInternalServerError, CodeInternal, "Cannot start process", err.Error())
	case created:
		w.Header().Set("Location", "/v1/processes/"+p.ID)
		writeJSON(w, http.StatusCreated, p)
	default:
		writeJSON(w, http.StatusOK, p)
	}
}

// maxStartWait bounds the wait of a start request.
const maxStartWait = 10 * time.Second

// startWait reads ?wait= of a start request: how long to wait for the
// process to end before answering (at most maxStartWait).
func startWait(r *http.Request) (time.Duration, error) {
	v := r.URL.Query().Get("wait")
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("wait %q: give a duration such as \"200ms\"", v)
	}
	return min(d, maxStartWait), nil
}

func (a *Agent) handleListProcesses(w http.ResponseWriter, r *http.Request) {
	ps := a.procs.list()
	if res := r.URL.Query().Get("reservation"); res != "" {
		ps = slices.DeleteFunc(ps, func(p Process) bool { return p.Reservation != res })
	}
	writeJSON(w, http.StatusOK, ps)
}

func (a *Agent) lookupProc(w http.ResponseWriter, r *http.Request) (*proc, bool) {
	p, ok := a.procs.get(r.PathValue("id"))
	if !ok {
		writeProblem(w, http.StatusNotFound, CodeNotFound, "No such process", fmt.Sprintf("no process %q on this node", r.PathValue("id")))
	}
	return p, ok
}

func (a *Agent) handleGetProcess(w http.ResponseWriter, r *http.Request) {
	if p, ok := a.lookupProc(w, r); ok {
		writeJSON(w, http.StatusOK, a.procs.status(p))
	}
}

func (a *Agent) handleOutput(w http.ResponseWriter, r *http.Request) {
	p, ok := a.lookupProc(w, r)
	if !ok {
		return
	}
	limit := a.cfg.OutputLimit
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			writeProblem(w, http.StatusBadRequest, CodeInvalid, "Invalid limit", "limit is a number of bytes")
			return
		}
		limit = min(n, a.cfg.OutputLimit)
	}
	dir := a.procs.dir(p.rec.ID)
	var out Output
	var err error
	if out.Stdout, out.StdoutSize, err = tail(filepath.Join(dir, "stdout"), limit); err == nil {
		out.Stderr, out.StderrSize, err = tail(filepath.Join(dir, "stderr"), limit)
	}
	if err != nil {
		writeProblem(w, http.StatusInternalServerError, CodeInternal, "Cannot read output", err.Error())
		return
	}
	out.Truncated = out.StdoutSize > limit || out.StderrSize > limit
	writeJSON(w, http.StatusOK, out)
}

// handleRawOutput streams one output file from ?offset= on, as bytes.
func (a *Agent) handleRawOutput(w http.ResponseWriter, r *http.Request) {
	p, ok := a.lookupProc(w, r)
	if !ok {
		return
	}
	stream := r.PathValue("stream")
	if stream != "stdout" && stream != "stderr" {
		writeProblem(w, http.StatusNotFound, CodeNotFound, "No such stream", "the streams are stdout and stderr")
		return
	}
	f, err := os.Open(filepath.Join(a.procs.dir(p.rec.ID), stream))
	if err != nil {
		writeProblem(w, http.StatusInternalServerError, CodeInternal, "Cannot read output", err.Error())
		return
	}
	defer f.Close()
	if s := r.URL.Query().Get("offset"); s != "" {
		off, err := strconv.ParseInt(s, 10, 64)
		if err != nil || off < 0 {
			writeProblem(w, http.StatusBadRequest, CodeInvalid, "Invalid offset", "offset is a number of bytes")
			return
		}
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			writeProblem(w, http.StatusBadRequest, CodeInvalid, "Invalid offset", err.Error())
			return
		}
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = io.Copy(w, f)
}

func (a *Agent) handleKillProcess(w http.ResponseWriter, r *http.Request) {
	p, ok := a.lookupProc(w, r)
	if !ok {
		return
	}
	grace := a.cfg.KillGrace
	if s := r.URL.Query().Get("grace"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			writeProblem(w, http.StatusBadRequest, CodeInvalid, "Invalid grace period", "grace is a duration such as \"2s\"")
			return
		}
		grace = d
	}
	writeJSON(w, http.StatusOK, a.procs.kill(p, grace))
}

func (a *Agent) handleStopReservation(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var res StopResult
	res.Processes = a.procs.killAll(func(p *proc) bool { return p.rec.Reservation == id })
	if a.docker != nil {
		// The reservation's containers go with it: a later reservation of
		// the node must not find them.
		n, err := a.docker.removeAll(func(c Container) bool { return c.Reservation == id })
		res.Containers = n
		if err != nil {
			writeProblem(w, http.StatusBadGateway, CodeUnavailable, "Cannot remove containers", err.Error())
			return
		}
	}
	writeJSON(w, http.StatusOK, res)
}
