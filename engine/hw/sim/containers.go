package sim

import (
	"context"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gridflow/gridflow/engine/hw"
)

// Simulated containers accept any image (simulated nodes have every image)
// and run jobs with the commands of simulated processes (sleep, echo, sh -c
// scripts of those…): `hostname` answers the container's host name. A
// container that stops ends its jobs as SIGTERM would; the end of its
// reservation removes it.

// stopContainerLocked stops a running container and the jobs running in it.
func (n *node) stopContainerLocked(c *hw.Container, now time.Time) {
	if c.State != hw.ContainerRunning {
		return
	}
	t := now
	c.State, c.ExitCode, c.Finished = hw.ContainerExited, 143, &t
	for _, j := range n.cjobs[c.ID] {
		j.killLocked(now)
	}
}

// removeContainersLocked removes the containers of a reservation and returns
// how many it removed.
func (n *node) removeContainersLocked(reservation string, now time.Time) int {
	count := 0
	for id, c := range n.containers {
		if c.Reservation == reservation {
			n.stopContainerLocked(c, now)
			delete(n.containers, id)
			delete(n.cjobs, id)
			count++
		}
	}
	return count
}

func copyContainer(c *hw.Container) hw.Container {
	out := *c
	out.Ports = maps.Clone(c.Ports)
	out.Env = maps.Clone(c.Env)
	out.Cmd = slices.Clone(c.Cmd)
	return out
}

// CreateContainer creates (and starts) a simulated container. Any image name
// is accepted: simulated nodes have every image.
func (d *Driver) CreateContainer(ctx context.Context, uid string, spec hw.ContainerSpec) (hw.Container, error) {
	const op = "create container"
	n, err := d.node(op, uid)
	if err != nil {
		return hw.Container{}, err
	}
	if err := hw.ValidID(spec.ID); err != nil {
		return hw.Container{}, hw.Errorf(op, uid, hw.Invalid, "%v", err)
	}
	if spec.Image == "" {
		return hw.Container{}, hw.Errorf(op, uid, hw.Invalid, "container %s names no image", spec.ID)
	}
	for port := range spec.Ports {
		if !strings.HasSuffix(port, "/tcp") && !strings.HasSuffix(port, "/udp") {
			return hw.Container{}, hw.Errorf(op, uid, hw.Invalid, "port %q: write \"<port>/tcp\" or \"<port>/udp\"", port)
		}
	}
	if spec.HostNetwork && len(spec.Ports) > 0 {
		return hw.Container{}, hw.Errorf(op, uid, hw.Invalid, "a container on the host's network uses the host's ports directly: give either ports or host networking, not both")
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.readyLocked(op); err != nil {
		return hw.Container{}, err
	}
	if c, ok := n.containers[spec.ID]; ok {
		if c.Image != spec.Image || c.Reservation != spec.Reservation {
			return hw.Container{}, hw.Errorf(op, uid, hw.Conflict, "container %q already exists with image %s; pick another id", spec.ID, c.Image)
		}
		return copyContainer(c), nil
	}
	if err := n.injectLocked(op); err != nil {
		return hw.Container{}, err
	}
	now := time.Now()
	host := spec.Hostname
	if spec.HostNetwork {
		host = uid
	} else if host == "" {
		host = spec.ID
	}
	c := &hw.Container{ID: spec.ID, Image: spec.Image, Cmd: slices.Clone(spec.Cmd), Env: maps.Clone(spec.Env), Hostname: host,
		WorkingDir: spec.WorkingDir, HostNetwork: spec.HostNetwork, State: hw.ContainerCreated,
		Reservation: spec.Reservation, Created: now}
	for _, port := range slices.Sorted(maps.Keys(spec.Ports)) {
		host := spec.Ports[port]
		if host == 0 {
			n.ports++
			host = 32767 + n.ports
		}
		if c.Ports == nil {
			c.Ports = map[string]int{}
		}
		c.Ports[port] = host
	}
	if !spec.NoStart {
		c.State, c.Started = hw.ContainerRunning, &now
	}
	n.containers[spec.ID] = c
	delete(n.cjobs, spec.ID)
	return copyContainer(c), nil
}

func (d *Driver) container(op, uid, id string) (*node, *hw.Container, error) {
	n, err := d.node(op, uid)
	if err != nil {
		return nil, nil, err
	}
	n.mu.Lock()
	if err := n.readyLocked(op); err != nil {
		n.mu.Unlock()
		return nil, nil, err
	}
	c, ok := n.containers[id]
	if !ok {
		n.mu.Unlock()
		return nil, nil, hw.Errorf(op, uid, hw.NotFound, "no container %q", id)
	}
	return n, c, nil // locked
}

// Container reports a container.
func (d *Driver) Container(ctx context.Context, uid, id string) (hw.Container, error) {
	n, c, err := d.container("container status", uid, id)
	if err != nil {
		return hw.Container{}, err
	}
	defer n.mu.Unlock()
	return copyContainer(c), nil
}

// ListContainers reports the containers of a node, by id.
func (d *Driver) ListContainers(ctx context.Context, uid string) ([]hw.Container, error) {
	n, err := d.node("list containers", uid)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.readyLocked("list containers"); err != nil {
		return nil, err
	}
	out := []hw.Container{}
	for _, id := range slices.Sorted(maps.Keys(n.containers)) {
		out = append(out, copyContainer(n.containers[id]))
	}
	return out, nil
}

// StartContainer starts a created or stopped container.
func (d *Driver) StartContainer(ctx context.Context, uid, id string) (hw.Container, error) {
	n, c, err := d.container("start container", uid, id)
	if err != nil {
		return hw.Container{}, err
	}
	defer n.mu.Unlock()
	if c.State != hw.ContainerRunning {
		now := time.Now()
		c.State, c.Started, c.Finished, c.ExitCode = hw.ContainerRunning, &now, nil, 0
	}
	return copyContainer(c), nil
}

// StopContainer stops a running container and its jobs.
func (d *Driver) StopContainer(ctx context.Context, uid, id string) (hw.Container, error) {
	n, c, err := d.container("stop container", uid, id)
	if err != nil {
		return hw.Container{}, err
	}
	defer n.mu.Unlock()
	n.stopContainerLocked(c, time.Now())
	return copyContainer(c), nil
}

// DeleteContainer removes a container; a missing one is not an error.
func (d *Driver) DeleteContainer(ctx context.Context, uid, id string) error {
	n, err := d.node("delete container", uid)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.readyLocked("delete container"); err != nil {
		return err
	}
	if c, ok := n.containers[id]; ok {
		n.stopContainerLocked(c, time.Now())
	}
	delete(n.containers, id)
	delete(n.cjobs, id)
	return nil
}

// Exec "runs" a command in a running simulated container.
func (d *Driver) Exec(ctx context.Context, uid, ctr string, spec hw.ProcessSpec) (hw.Process, error) {
	const op = "start job"
	if err := hw.ValidID(spec.ID); err != nil {
		return hw.Process{}, hw.Errorf(op, uid, hw.Invalid, "%v", err)
	}
	if spec.Name == "" {
		return hw.Process{}, hw.Errorf(op, uid, hw.Invalid, "job %s names no program", spec.ID)
	}
	n, c, err := d.container(op, uid, ctr)
	if err != nil {
		return hw.Process{}, err
	}
	defer n.mu.Unlock()
	now := time.Now()
	if j, ok := n.cjobs[ctr][spec.ID]; ok {
		if !sameSpec(j.spec, spec) {
			return hw.Process{}, hw.Errorf(op, uid, hw.Conflict, "job %q already exists in container %s with another command; pick another id", spec.ID, ctr)
		}
		return j.statusLocked(now), nil
	}
	if c.State != hw.ContainerRunning {
		return hw.Process{}, hw.Errorf(op, uid, hw.Conflict, "container %s is %s; start it first", ctr, c.State)
	}
	run, err := simulate(c.Hostname, spec)
	if err != nil {
		// As in a real container, a program that cannot run fails the job.
		run = script{steps: []step{{stderr: "sh: " + spec.Name + ": " + err.Error() + "\n"}}, exit: 127}
	}
	if err := n.injectLocked(op); err != nil {
		return hw.Process{}, err
	}
	n.pid++
	j := &proc{spec: spec, pid: n.pid, start: now, run: run, rss: int64(1+n.pid%3) << 20}
	if n.cjobs[ctr] == nil {
		n.cjobs[ctr] = map[string]*proc{}
	}
	n.cjobs[ctr][spec.ID] = j
	return j.statusLocked(now), nil
}

func (d *Driver) job(op, uid, ctr, id string) (*node, *proc, error) {
	n, _, err := d.container(op, uid, ctr)
	if err != nil {
		return nil, nil, err
	}
	j, ok := n.cjobs[ctr][id]
	if !ok {
		n.mu.Unlock()
		return nil, nil, hw.Errorf(op, uid, hw.NotFound, "no job %q in container %s", id, ctr)
	}
	return n, j, nil // locked
}

// ContainerJobs lists the jobs of a container, oldest first.
func (d *Driver) ContainerJobs(ctx context.Context, uid, ctr string) ([]hw.Process, error) {
	n, _, err := d.container("list jobs", uid, ctr)
	if err != nil {
		return nil, err
	}
	defer n.mu.Unlock()
	now := time.Now()
	out := make([]hw.Process, 0, len(n.cjobs[ctr]))
	for _, j := range n.cjobs[ctr] {
		out = append(out, j.statusLocked(now))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out, nil
}

// ContainerJob reports a job.
func (d *Driver) ContainerJob(ctx context.Context, uid, ctr, id string) (hw.Process, error) {
	n, j, err := d.job("job status", uid, ctr, id)
	if err != nil {
		return hw.Process{}, err
	}
	defer n.mu.Unlock()
	return j.statusLocked(time.Now()), nil
}

// ContainerJobOutput returns what a job wrote so far.
func (d *Driver) ContainerJobOutput(ctx context.Context, uid, ctr, id string) (hw.Output, error) {
	n, j, err := d.job("job output", uid, ctr, id)
	if err != nil {
		return hw.Output{}, err
	}
	defer n.mu.Unlock()
	return j.outputLocked(time.Now()), nil
}

// KillContainerJob ends a running job with SIGTERM.
func (d *Driver) KillContainerJob(ctx context.Context, uid, ctr, id string) (hw.Process, error) {
	n, j, err := d.job("kill job", uid, ctr, id)
	if err != nil {
		return hw.Process{}, err
	}
	defer n.mu.Unlock()
	now := time.Now()
	j.killLocked(now)
	return j.statusLocked(now), nil
}

// ContainerProcesses lists the main process of a running container and its
// running jobs, with simulated cpu and memory.
func (d *Driver) ContainerProcesses(ctx context.Context, uid, ctr string) ([]hw.ContainerProcess, error) {
	const op = "container processes"
	n, c, err := d.container(op, uid, ctr)
	if err != nil {
		return nil, err
	}
	defer n.mu.Unlock()
	if c.State != hw.ContainerRunning {
		return nil, hw.Errorf(op, uid, hw.Conflict, "container %s is %s: it runs no processes", ctr, c.State)
	}
	now := time.Now()
	cmd := strings.Join(c.Cmd, " ")
	if cmd == "" {
		cmd = "(the default command of " + c.Image + ")"
	}
	// The main process comes first, with a pid of its own, stable for the
	// container.
	main := 100000 + int(c.Created.UnixNano()%100000)
	out := []hw.ContainerProcess{}
	for _, j := range n.cjobs[ctr] {
		st := j.statusLocked(now)
		if st.State != hw.ProcessRunning {
			continue
		}
		out = append(out, hw.ContainerProcess{PID: st.PID, PPID: main, Cmdline: strings.Join(append([]string{st.Name}, st.Args...), " "),
			CPUPercent: 1, RSS: st.RSS, VMS: st.RSS * 4, Elapsed: now.Sub(st.Started)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return append([]hw.ContainerProcess{{PID: main, Cmdline: cmd, CPUPercent: 0.1, RSS: 8 << 20, VMS: 32 << 20, Elapsed: now.Sub(*c.Started)}}, out...), nil
}
