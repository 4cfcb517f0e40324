package sim

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gridflow/gridflow/engine/hw"
)

// proc is a simulated process: a script of outputs over time.
type proc struct {
	spec  hw.ProcessSpec
	pid   int
	start time.Time
	run   script
	rss   int64
	// killed is set when a signal ended the process before its script did.
	killed *time.Time
}

// script is what a simulated command does.
type script struct {
	steps []step
	total time.Duration
	exit  int
}

// step is output written at an offset from the start.
type step struct {
	at             time.Duration
	stdout, stderr string
}

func (p *proc) statusLocked(now time.Time) hw.Process {
	st := hw.Process{
		ID: p.spec.ID, Name: p.spec.Name, Args: p.spec.Args, Env: p.spec.Env, Pwd: p.spec.Pwd,
		Reservation: p.spec.Reservation, PID: p.pid, State: hw.ProcessRunning, Started: p.start,
	}
	switch end := p.start.Add(p.run.total); {
	case p.killed != nil:
		code, ended := -1, *p.killed
		st.State, st.ExitCode, st.Signal, st.Ended = hw.ProcessExited, &code, "SIGTERM", &ended
	case !now.Before(end):
		code := p.run.exit
		st.State, st.ExitCode, st.Ended = hw.ProcessExited, &code, &end
	default:
		st.RSS = p.rss
	}
	return st
}

func (p *proc) killLocked(now time.Time) {
	if p.killed == nil && now.Before(p.start.Add(p.run.total)) {
		p.killed = &now
	}
}

// outputLocked is what the process wrote by now.
func (p *proc) outputLocked(now time.Time) hw.Output {
	until := now
	if p.killed != nil {
		until = *p.killed
	}
	var out, errs strings.Builder
	for _, s := range p.run.steps {
		if !p.start.Add(s.at).After(until) {
			out.WriteString(s.stdout)
			errs.WriteString(s.stderr)
		}
	}
	return hw.Output{Stdout: []byte(out.String()), Stderr: []byte(errs.String()),
		StdoutSize: int64(out.Len()), StderrSize: int64(errs.Len())}
}

func sameSpec(a, b hw.ProcessSpec) bool {
	return a.Name == b.Name && slices.Equal(a.Args, b.Args) && maps.Equal(a.Env, b.Env) && a.Pwd == b.Pwd && a.Reservation == b.Reservation
}

// Start "runs" a command. See the package documentation for the commands.
func (d *Driver) Start(ctx context.Context, uid string, spec hw.ProcessSpec) (hw.Process, error) {
	const op = "start process"
	n, err := d.node(op, uid)
	if err != nil {
		return hw.Process{}, err
	}
	if err := hw.ValidID(spec.ID); err != nil {
		return hw.Process{}, hw.Errorf(op, uid, hw.Invalid, "%v", err)
	}
	if spec.Name == "" {
		return hw.Process{}, hw.Errorf(op, uid, hw.Invalid, "process %s names no program", spec.ID)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.readyLocked(op); err != nil {
		return hw.Process{}, err
	}
	now := time.Now()
	if p, ok := n.procs[spec.ID]; ok {
		if !sameSpec(p.spec, spec) {
			return hw.Process{}, hw.Errorf(op, uid, hw.Conflict, "process %q already exists with another command; pick another id", spec.ID)
		}
		return p.statusLocked(now), nil
	}
	run, err := simulate(uid, spec)
	if err != nil {
		return hw.Process{}, hw.Errorf(op, uid, hw.Failed, "%v", err)
	}
	if err := n.injectLocked(op); err != nil {
		return hw.Process{}, err
	}
	n.pid++
	p := &proc{spec: spec, pid: n.pid, start: now, run: run, rss: int64(1+n.pid%3) << 20}
	n.procs[spec.ID] = p
	return p.statusLocked(now), nil
}

func (d *Driver) proc(op, uid, id string) (*node, *proc, error) {
	n, err := d.node(op, uid)
	if err != nil {
		return nil, nil, err
	}
	n.mu.Lock()
	if err := n.readyLocked(op); err != nil {
		n.mu.Unlock()
		return nil, nil, err
	}
	p, ok := n.procs[id]
	if !ok {
		n.mu.Unlock()
		return nil, nil, hw.Errorf(op, uid, hw.NotFound, "no process %q", id)
	}
	return n, p, nil // locked
}

// Status reports a process.
func (d *Driver) Status(ctx context.Context, uid, id string) (hw.Process, error) {
	n, p, err := d.proc("process status", uid, id)
	if err != nil {
		return hw.Process{}, err
	}
	defer n.mu.Unlock()
	return p.statusLocked(time.Now()), nil
}

// List reports every process of the node, oldest first.
func (d *Driver) List(ctx context.Context, uid string) ([]hw.Process, error) {
	n, err := d.node("list processes", uid)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.readyLocked("list processes"); err != nil {
		return nil, err
	}
	now := time.Now()
	out := make([]hw.Process, 0, len(n.procs))
	for _, p := range n.procs {
		out = append(out, p.statusLocked(now))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out, nil
}

// Output returns what the process wrote so far.
func (d *Driver) Output(ctx context.Context, uid, id string) (hw.Output, error) {
	n, p, err := d.proc("process output", uid, id)
	if err != nil {
		return hw.Output{}, err
	}
	defer n.mu.Unlock()
	return p.outputLocked(time.Now()), nil
}

// Kill ends a running process with SIGTERM.
func (d *Driver) Kill(ctx context.Context, uid, id string) (hw.Process, error) {
	n, p, err := d.proc("kill process", uid, id)
	if err != nil {
		return hw.Process{}, err
	}
	defer n.mu.Unlock()
	now := time.Now()
	p.killLocked(now)
	return p.statusLocked(now), nil
}

// simulate turns a command into a script, or says why the simulator cannot
// run it.
func simulate(host string, spec hw.ProcessSpec) (script, error) {
	base := path.Base(spec.Name)
	switch base {
	case "sh", "bash", "dash":
		if len(spec.Args) < 2 || spec.Args[0] != "-c" {
			return script{}, fmt.Errorf("simulated nodes run shells only as %s -c '<commands>'", spec.Name)
		}
		return shell(host, spec.Args[1], spec.Env), nil
	}
	var s script
	if !command(&s, host, base, spec.Args) {
		return script{}, fmt.Errorf("simulated nodes cannot run %q: they run sleep, true, false, hostname, echo, exit and sh -c scripts of those", spec.Name)
	}
	return s, nil
}

var separators = regexp.MustCompile(`;|&&|\n`)

// shell runs a script of simple commands; variables come from env. An
// unknown command fails as in a real shell and the script goes on.
func shell(host, src string, env map[string]string) script {
	var s script
	for _, part := range separators.Split(src, -1) {
		part = os.Expand(part, func(k string) string { return env[k] })
		f := strings.Fields(part)
		if len(f) == 0 {
			continue
		}
		if f[0] == "exit" {
			s.exit = 0
			if len(f) > 1 {
				s.exit, _ = strconv.Atoi(f[1])
			}
			break
		}
		if !command(&s, host, f[0], f[1:]) {
			s.steps = append(s.steps, step{at: s.total, stderr: "sh: " + f[0] + ": not found\n"})
			s.exit = 127
		}
	}
	return s
}

// command appends what one command does to s; false when it is unknown.
func command(s *script, host, name string, args []string) bool {
	switch name {
	case "true", ":":
		s.exit = 0
	case "false":
		s.exit = 1
	case "hostname":
		s.steps = append(s.steps, step{at: s.total, stdout: host + "\n"})
		s.exit = 0
	case "echo":
		nl := "\n"
		if len(args) > 0 && args[0] == "-n" {
			args, nl = args[1:], ""
		}
		s.steps = append(s.steps, step{at: s.total, stdout: strings.Join(args, " ") + nl})
		s.exit = 0
	case "sleep":
		var total time.Duration
		for _, a := range args {
			d, err := sleepArg(a)
			if err != nil {
				s.steps = append(s.steps, step{at: s.total, stderr: "sleep: invalid time interval '" + a + "'\n"})
				s.exit = 1
				return true
			}
			total += d
		}
		if len(args) == 0 {
			s.steps = append(s.steps, step{at: s.total, stderr: "sleep: missing operand\n"})
			s.exit = 1
			return true
		}
		s.total += total
		s.exit = 0
	default:
		return false
	}
	return true
}

// sleepArg reads an argument of sleep: seconds, or a number with s, m, h or d.
func sleepArg(a string) (time.Duration, error) {
	unit := time.Second
	switch {
	case strings.HasSuffix(a, "s"):
		a = a[:len(a)-1]
	case strings.HasSuffix(a, "m"):
		a, unit = a[:len(a)-1], time.Minute
	case strings.HasSuffix(a, "h"):
		a, unit = a[:len(a)-1], time.Hour
	case strings.HasSuffix(a, "d"):
		a, unit = a[:len(a)-1], 24*time.Hour
	}
	f, err := strconv.ParseFloat(a, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("invalid interval")
	}
	return time.Duration(f * float64(unit)), nil
}
