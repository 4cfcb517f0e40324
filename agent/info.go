package agent

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// state is what the agent remembers across restarts (DataDir/state.json).
type state struct {
	AgentID    string `json:"agentId"`
	Generation int64  `json:"generation"`
	// BootTime is when the current generation booted.
	BootTime time.Time `json:"bootTime"`
	// KernelBootID tells a real reboot of the host from an agent restart.
	KernelBootID string       `json:"kernelBootId"`
	Environment  *Environment `json:"environment,omitempty"`
}

func (a *Agent) statePath() string { return filepath.Join(a.cfg.DataDir, "state.json") }

func (a *Agent) loadState() error {
	bootID := kernelBootID()
	raw, err := os.ReadFile(a.statePath())
	switch {
	case errors.Is(err, fs.ErrNotExist):
		var id [8]byte
		_, _ = rand.Read(id[:])
		a.state = state{AgentID: hex.EncodeToString(id[:]), Generation: 1, BootTime: hostBootTime(), KernelBootID: bootID}
	case err != nil:
		return fmt.Errorf("agent: read state: %w", err)
	default:
		if err := json.Unmarshal(raw, &a.state); err != nil {
			return fmt.Errorf("agent: %s is corrupt (%v): move it away to start afresh", a.statePath(), err)
		}
		if a.state.KernelBootID != bootID {
			// The host really rebooted since the agent last ran.
			a.state.Generation++
			a.state.BootTime = hostBootTime()
			a.state.KernelBootID = bootID
		}
	}
	return a.saveStateLocked()
}

// saveStateLocked writes the state atomically; the caller holds stateMu or
// has the agent to itself.
func (a *Agent) saveStateLocked() error {
	raw, err := json.MarshalIndent(a.state, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(a.statePath(), raw)
}

func writeFileAtomic(name string, data []byte) error {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

// Info reads the facts of the host.
func (a *Agent) Info() (Info, error) {
	mem, err := readMeminfo("/proc/meminfo")
	if err != nil {
		return Info{}, err
	}
	load, err := readLoadavg("/proc/loadavg")
	if err != nil {
		return Info{}, err
	}
	disk, err := diskUsage(a.cfg.DataDir)
	if err != nil {
		return Info{}, err
	}
	host, _ := os.Hostname()
	a.stateMu.Lock()
	st := a.state
	a.stateMu.Unlock()
	now := time.Now()
	return Info{
		Hostname:      host,
		AgentID:       st.AgentID,
		CPUs:          runtime.NumCPU(),
		Load:          load,
		BootID:        st.KernelBootID,
		Generation:    st.Generation,
		BootTime:      st.BootTime,
		UptimeSeconds: now.Sub(st.BootTime).Seconds(),
		Environment:   st.Environment,
		Memory:        mem,
		Disk:          disk,
		Containers:    a.docker != nil,
		Time:          now,
	}, nil
}

func (a *Agent) handleInfo(w http.ResponseWriter, r *http.Request) {
	info, err := a.Info()
	if err != nil {
		writeProblem(w, http.StatusInternalServerError, CodeInternal, "Cannot read host facts", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (a *Agent) handleGetEnvironment(w http.ResponseWriter, r *http.Request) {
	a.stateMu.Lock()
	env := a.state.Environment
	a.stateMu.Unlock()
	if env == nil {
		writeProblem(w, http.StatusNotFound, CodeNotFound, "No environment", "no environment was installed on this node; POST /v1/environment installs one")
		return
	}
	writeJSON(w, http.StatusOK, env)
}

func (a *Agent) handleReboot(w http.ResponseWriter, r *http.Request) {
	var req RebootRequest
	if !decodeJSON(w, r, &req, true) {
		return
	}
	if err := a.reboot(req.IfGeneration, nil); err != nil {
		writeProblem(w, http.StatusInternalServerError, CodeInternal, "Reboot failed", err.Error())
		return
	}
	a.handleInfo(w, r)
}

// reboot simulates a reboot of the node: every managed process and container
// stops, the generation grows and the uptime starts again. With ifGeneration
// set and already passed, it does nothing: that reboot happened. A non-nil env
// becomes the environment the node boots into.
func (a *Agent) reboot(ifGeneration int64, env *Environment) error {
	a.lifecycle.Lock()
	defer a.lifecycle.Unlock()
	a.stateMu.Lock()
	gen := a.state.Generation
	a.stateMu.Unlock()
	if ifGeneration != 0 && gen != ifGeneration {
		return nil
	}
	var wg sync.WaitGroup
	var derr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.procs.killAll(func(*proc) bool { return true })
	}()
	if a.docker != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, derr = a.docker.stopAll(func(Container) bool { return true }, a.cfg.KillGrace)
		}()
	}
	wg.Wait()
	a.stateMu.Lock()
	defer a.stateMu.Unlock()
	a.state.Generation++
	a.state.BootTime = time.Now()
	if env != nil {
		a.state.Environment = env
	}
	if err := a.saveStateLocked(); err != nil {
		return err
	}
	a.log.Info("rebooted", "generation", a.state.Generation, "environment", envName(a.state.Environment))
	if derr != nil {
		return fmt.Errorf("containers did not all stop: %w", derr)
	}
	return nil
}

func envName(e *Environment) string {
	if e == nil {
		return ""
	}
	return e.Name
}

func kernelBootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// hostUptime reads /proc/uptime.
func hostUptime() (time.Duration, error) {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, fmt.Errorf("/proc/uptime is empty")
	}
	s, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return 0, fmt.Errorf("/proc/uptime: %w", err)
	}
	return time.Duration(s * float64(time.Second)), nil
}

func hostBootTime() time.Time {
	up, err := hostUptime()
	if err != nil {
		return time.Now()
	}
	return time.Now().Add(-up).Truncate(time.Second)
}

// readMeminfo parses a /proc/meminfo file. Cached counts the reclaimable
// slab too, as free(1) and gopsutil do; Used is what is not available.
func readMeminfo(name string) (Memory, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return Memory{}, err
	}
	return parseMeminfo(b)
}

func parseMeminfo(b []byte) (Memory, error) {
	kv := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("meminfo %s: %w", key, err)
		}
		if len(f) > 1 && f[1] == "kB" {
			v *= 1024
		}
		kv[key] = v
	}
	total, ok := kv["MemTotal"]
	if !ok || total == 0 {
		return Memory{}, errors.New("meminfo has no MemTotal")
	}
	m := Memory{
		Total:    total,
		Free:     kv["MemFree"],
		Buffers:  kv["Buffers"],
		Cached:   kv["Cached"] + kv["SReclaimable"],
		Active:   kv["Active"],
		Inactive: kv["Inactive"],
	}
	if av, ok := kv["MemAvailable"]; ok {
		m.Available = av
	} else { // kernels before 3.14
		m.Available = m.Free + m.Buffers + m.Cached
	}
	if m.Available > total {
		m.Available = total
	}
	m.Used = total - m.Available
	m.UsedPercent = float64(m.Used) / float64(total) * 100
	return m, nil
}

func readLoadavg(name string) (Load, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return Load{}, err
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return Load{}, fmt.Errorf("%s: want three load averages, got %q", name, b)
	}
	var v [3]float64
	for i := range v {
		if v[i], err = strconv.ParseFloat(f[i], 64); err != nil {
			return Load{}, fmt.Errorf("%s: %w", name, err)
		}
	}
	return Load{One: v[0], Five: v[1], Fifteen: v[2]}, nil
}

func diskUsage(dir string) (Disk, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return Disk{}, fmt.Errorf("statfs %s: %w", dir, err)
	}
	bs := uint64(st.Bsize)
	d := Disk{Path: dir, Total: st.Blocks * bs, Free: st.Bfree * bs, Available: st.Bavail * bs}
	d.Used = d.Total - d.Free
	if d.Total > 0 {
		d.UsedPercent = float64(d.Used) / float64(d.Total) * 100
	}
	return d, nil
}
