// Package docker drives the nodes of "docker" clusters: each node is a scope
// on a Docker Engine (its own, or one shared with other nodes), reached over
// the engine's unix socket or a tcp address (testbed.DockerConfig). It
// implements Info (from the engine's /info), Containers (with jobs and
// process listings, through package dockerapi) and, for the end of a
// reservation, StopReservation, which removes the reservation's containers.
// The rest (power, processes on the node, files, environments) answers
// hw.Unsupported: a Docker Engine offers none of it.
//
// Importing the package registers it for the driver kind "docker".
package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"time"

	"github.com/gridflow/gridflow/agent/dockerapi"
	"github.com/gridflow/gridflow/dsl/testbed"
	"github.com/gridflow/gridflow/engine/hw"
)

func init() {
	hw.Register(testbed.DriverDocker, func(c *testbed.Cluster, _ hw.Options) (hw.Driver, error) {
		return New(c, Options{})
	})
}

// Options tune a Driver.
type Options struct {
	// KillGrace is the time between SIGTERM and SIGKILL when a container or
	// a job stops (default 5s).
	KillGrace time.Duration
	// OutputLimit bounds the bytes of each stream an output answer returns
	// (default 1 MiB).
	OutputLimit int64
}

// Driver drives the nodes of one docker cluster. It is safe for concurrent use.
type Driver struct {
	cluster string
	opts    Options
	nodes   map[string]*dockerapi.Client
}

var _ hw.Driver = (*Driver)(nil)

// New returns the driver of cluster c: one engine client per node, scoped by
// the node uid.
func New(c *testbed.Cluster, opts Options) (*Driver, error) {
	if opts.KillGrace <= 0 {
		opts.KillGrace = 5 * time.Second
	}
	if opts.OutputLimit <= 0 {
		opts.OutputLimit = 1 << 20
	}
	d := &Driver{cluster: c.Site + "/" + c.UID, opts: opts, nodes: map[string]*dockerapi.Client{}}
	for _, n := range c.Nodes {
		cl, err := dockerapi.New(c.Driver.DockerHost(n.UID), n.UID)
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("docker: node %s: %w", n.UID, err)
		}
		d.nodes[n.UID] = cl
	}
	return d, nil
}

// Close drops idle connections.
func (d *Driver) Close() error {
	for _, c := range d.nodes {
		c.Close()
	}
	return nil
}

func (d *Driver) client(op, node string) (*dockerapi.Client, error) {
	c, ok := d.nodes[node]
	if !ok {
		return nil, hw.Errorf(op, node, hw.NotFound, "no node %q in docker cluster %s", node, d.cluster)
	}
	return c, nil
}

// classify turns an error of the Docker Engine into an hw.Error; what names
// the thing a 404 is about.
func classify(op, node, what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s on %s: %w", op, node, err)
	}
	st := dockerapi.StatusOf(err)
	kind := hw.Failed
	switch {
	case errors.Is(err, dockerapi.ErrUnreachable):
		kind = hw.Unavailable
	case errors.Is(err, dockerapi.ErrConflict), errors.Is(err, dockerapi.ErrNotRunning):
		kind = hw.Conflict
	case errors.Is(err, dockerapi.ErrNoShell):
		kind = hw.Failed
	case st == http.StatusNotFound:
		kind = hw.NotFound
		err = fmt.Errorf("%s: %w", what, err)
	case st == http.StatusBadRequest:
		kind = hw.Invalid
	case st == http.StatusConflict:
		kind = hw.Conflict
	case st >= 500:
		kind = hw.Internal
	}
	return &hw.Error{Op: op, Node: node, Kind: kind, Retryable: kind == hw.Unavailable || kind == hw.Internal, Err: err}
}

// Info reports what the node's Docker Engine knows of its machine: host
// name, cpus and total memory (the engine reports no usage, load or disk).
func (d *Driver) Info(ctx context.Context, node string) (hw.NodeInfo, error) {
	const op = "info"
	c, err := d.client(op, node)
	if err != nil {
		return hw.NodeInfo{}, err
	}
	in, err := c.Info(ctx)
	if err != nil {
		return hw.NodeInfo{}, classify(op, node, "docker engine", err)
	}
	total := uint64(max(in.MemTotal, 0))
	return hw.NodeInfo{
		Node: node, Hostname: in.Name, CPUs: in.NCPU, BootID: in.ID, Generation: 1,
		Memory:     hw.Memory{Total: total},
		Containers: true,
	}, nil
}

func unsupported(op, node, what string) error {
	return hw.Errorf(op, node, hw.Unsupported, "node %s is a Docker Engine: the docker driver runs containers only and cannot %s; use an agent cluster for that", node, what)
}

// Reboot is not supported.
func (d *Driver) Reboot(ctx context.Context, node string, _ hw.RebootOptions) (hw.NodeInfo, error) {
	return hw.NodeInfo{}, unsupported("reboot", node, "reboot")
}

// Install is not supported.
func (d *Driver) Install(ctx context.Context, node string, _ hw.EnvSpec) (hw.NodeInfo, error) {
	return hw.NodeInfo{}, unsupported("install environment", node, "install environments")
}

// Start is not supported: run commands in containers (Exec).
func (d *Driver) Start(ctx context.Context, node string, _ hw.ProcessSpec) (hw.Process, error) {
	return hw.Process{}, unsupported("start process", node, "run processes outside containers (run them as jobs of a container)")
}

// Status is not supported.
func (d *Driver) Status(ctx context.Context, node, _ string) (hw.Process, error) {
	return hw.Process{}, unsupported("process status", node, "run processes outside containers")
}

// List is not supported.
func (d *Driver) List(ctx context.Context, node string) ([]hw.Process, error) {
	return nil, unsupported("list processes", node, "run processes outside containers")
}

// Output is not supported.
func (d *Driver) Output(ctx context.Context, node, _ string) (hw.Output, error) {
	return hw.Output{}, unsupported("process output", node, "run processes outside containers")
}

// Kill is not supported.
func (d *Driver) Kill(ctx context.Context, node, _ string) (hw.Process, error) {
	return hw.Process{}, unsupported("kill process", node, "run processes outside containers")
}

// StopReservation removes the containers of the reservation.
func (d *Driver) StopReservation(ctx context.Context, node, reservation string) (int, error) {
	const op = "stop reservation"
	c, err := d.client(op, node)
	if err != nil {
		return 0, err
	}
	n, err := c.RemoveAll(ctx, func(ct dockerapi.Container) bool { return ct.Reservation == reservation })
	return n, classify(op, node, "containers", err)
}

// Put is not supported.
func (d *Driver) Put(ctx context.Context, node, _ string, _ io.Reader, _ hw.PutOptions) (hw.FileInfo, error) {
	return hw.FileInfo{}, unsupported("put file", node, "store files")
}

// Get is not supported.
func (d *Driver) Get(ctx context.Context, node, _, _ string) (hw.Download, error) {
	return nil, unsupported("get file", node, "serve files")
}

// Stat is not supported.
func (d *Driver) Stat(ctx context.Context, node, _, _ string) (hw.FileInfo, error) {
	return hw.FileInfo{}, unsupported("stat file", node, "store files")
}

// Delete is not supported.
func (d *Driver) Delete(ctx context.Context, node, _ string) error {
	return unsupported("delete file", node, "store files")
}

func container(c dockerapi.Container) hw.Container {
	return hw.Container{ID: c.ID, Image: c.Image, Cmd: c.Cmd, Env: c.Env, Hostname: c.Hostname, WorkingDir: c.WorkingDir,
		HostNetwork: c.HostNetwork, State: c.State, ExitCode: c.ExitCode, Ports: c.Ports, Reservation: c.Reservation,
		Created: c.Created, Started: c.Started, Finished: c.Finished}
}

func job(j dockerapi.Job) hw.Process {
	return hw.Process{ID: j.ID, Name: j.Name, Args: j.Args, Env: j.Env, Pwd: j.Pwd, Reservation: j.Reservation,
		PID: j.PID, State: j.State, ExitCode: j.ExitCode, Signal: j.Signal, Started: j.Started, Ended: j.Ended}
}

// CreateContainer creates (and starts) a container, or returns the one
// created under spec.ID. An image the engine does not have is NotFound.
func (d *Driver) CreateContainer(ctx context.Context, node string, spec hw.ContainerSpec) (hw.Container, error) {
	const op = "create container"
	c, err := d.client(op, node)
	if err != nil {
		return hw.Container{}, err
	}
	s := dockerapi.Spec{ID: spec.ID, Image: spec.Image, Cmd: spec.Cmd, Env: spec.Env, Hostname: spec.Hostname,
		WorkingDir: spec.WorkingDir, Ports: spec.Ports, HostNetwork: spec.HostNetwork, Reservation: spec.Reservation, NoStart: spec.NoStart}
	if err := dockerapi.CheckSpec(s); err != nil {
		return hw.Container{}, hw.Errorf(op, node, hw.Invalid, "%v", err)
	}
	ct, _, err := c.Create(ctx, s)
	if err != nil {
		return hw.Container{}, classify(op, node, fmt.Sprintf("image %q is not on the node's Docker Engine; load or build it there first", spec.Image), err)
	}
	return container(ct), nil
}

// Container reports a container.
func (d *Driver) Container(ctx context.Context, node, id string) (hw.Container, error) {
	const op = "container status"
	c, err := d.client(op, node)
	if err != nil {
		return hw.Container{}, err
	}
	ct, err := c.Inspect(ctx, id)
	if err != nil {
		return hw.Container{}, classify(op, node, fmt.Sprintf("container %q", id), err)
	}
	return container(ct), nil
}

// ListContainers reports the node's containers, by id.
func (d *Driver) ListContainers(ctx context.Context, node string) ([]hw.Container, error) {
	const op = "list containers"
	c, err := d.client(op, node)
	if err != nil {
		return nil, err
	}
	cs, err := c.List(ctx)
	if err != nil {
		return nil, classify(op, node, "containers", err)
	}
	out := make([]hw.Container, len(cs))
	for i, ct := range cs {
		out[i] = container(ct)
	}
	return out, nil
}

func (d *Driver) act(ctx context.Context, op, node, id string, f func(*dockerapi.Client) error) (hw.Container, error) {
	c, err := d.client(op, node)
	if err != nil {
		return hw.Container{}, err
	}
	what := fmt.Sprintf("container %q", id)
	if _, err := c.Inspect(ctx, id); err != nil {
		return hw.Container{}, classify(op, node, what, err)
	}
	if err := f(c); err != nil {
		return hw.Container{}, classify(op, node, what, err)
	}
	ct, err := c.Inspect(ctx, id)
	if err != nil {
		return hw.Container{}, classify(op, node, what, err)
	}
	return container(ct), nil
}

// StartContainer starts a container.
func (d *Driver) StartContainer(ctx context.Context, node, id string) (hw.Container, error) {
	return d.act(ctx, "start container", node, id, func(c *dockerapi.Client) error { return c.Start(ctx, id) })
}

// StopContainer stops a container (SIGTERM, SIGKILL after the grace period).
func (d *Driver) StopContainer(ctx context.Context, node, id string) (hw.Container, error) {
	return d.act(ctx, "stop container", node, id, func(c *dockerapi.Client) error { return c.Stop(ctx, id, d.opts.KillGrace) })
}

// DeleteContainer removes a container; one that is not there is not an error.
func (d *Driver) DeleteContainer(ctx context.Context, node, id string) error {
	const op = "delete container"
	c, err := d.client(op, node)
	if err != nil {
		return err
	}
	if _, err := c.Inspect(ctx, id); dockerapi.IsNotFound(err) {
		return nil // not there, or not this node's
	}
	if err := c.Remove(ctx, id); err != nil && !dockerapi.IsNotFound(err) {
		return classify(op, node, fmt.Sprintf("container %q", id), err)
	}
	return nil
}

// Exec starts a job in a container, or finds the one started under spec.ID.
func (d *Driver) Exec(ctx context.Context, node, ctr string, spec hw.ProcessSpec) (hw.Process, error) {
	const op = "start job"
	c, err := d.client(op, node)
	if err != nil {
		return hw.Process{}, err
	}
	s := dockerapi.JobSpec{ID: spec.ID, Name: spec.Name, Args: spec.Args, Env: spec.Env, Pwd: spec.Pwd, Reservation: spec.Reservation}
	if err := dockerapi.CheckJob(s); err != nil {
		return hw.Process{}, hw.Errorf(op, node, hw.Invalid, "%v", err)
	}
	j, _, err := c.Exec(ctx, ctr, s)
	if err != nil {
		return hw.Process{}, classify(op, node, fmt.Sprintf("container %q", ctr), err)
	}
	return job(j), nil
}

// ContainerJobs lists the jobs of a container, oldest first.
func (d *Driver) ContainerJobs(ctx context.Context, node, ctr string) ([]hw.Process, error) {
	const op = "list jobs"
	c, err := d.client(op, node)
	if err != nil {
		return nil, err
	}
	js, err := c.Jobs(ctx, ctr)
	if err != nil {
		return nil, classify(op, node, fmt.Sprintf("container %q", ctr), err)
	}
	out := make([]hw.Process, len(js))
	for i, j := range js {
		out[i] = job(j)
	}
	return out, nil
}

// ContainerJob reports a job.
func (d *Driver) ContainerJob(ctx context.Context, node, ctr, id string) (hw.Process, error) {
	const op = "job status"
	c, err := d.client(op, node)
	if err != nil {
		return hw.Process{}, err
	}
	j, err := c.Job(ctx, ctr, id)
	if err != nil {
		return hw.Process{}, classify(op, node, fmt.Sprintf("job %q of container %q", id, ctr), err)
	}
	return job(j), nil
}

// ContainerJobOutput returns the tail of what a job wrote.
func (d *Driver) ContainerJobOutput(ctx context.Context, node, ctr, id string) (hw.Output, error) {
	const op = "job output"
	c, err := d.client(op, node)
	if err != nil {
		return hw.Output{}, err
	}
	o, err := c.JobOutput(ctx, ctr, id, d.opts.OutputLimit)
	if err != nil {
		return hw.Output{}, classify(op, node, fmt.Sprintf("job %q of container %q", id, ctr), err)
	}
	return hw.Output{Stdout: o.Stdout, Stderr: o.Stderr, StdoutSize: o.StdoutSize, StderrSize: o.StderrSize, Truncated: o.Truncated}, nil
}

// KillContainerJob stops a job and its process group.
func (d *Driver) KillContainerJob(ctx context.Context, node, ctr, id string) (hw.Process, error) {
	const op = "kill job"
	c, err := d.client(op, node)
	if err != nil {
		return hw.Process{}, err
	}
	j, err := c.KillJob(ctx, ctr, id, d.opts.KillGrace)
	if err != nil {
		return hw.Process{}, classify(op, node, fmt.Sprintf("job %q of container %q", id, ctr), err)
	}
	return job(j), nil
}

// ContainerProcesses lists the processes of a running container, as the
// engine's ps sees them (pids of the engine's host).
func (d *Driver) ContainerProcesses(ctx context.Context, node, ctr string) ([]hw.ContainerProcess, error) {
	const op = "container processes"
	c, err := d.client(op, node)
	if err != nil {
		return nil, err
	}
	ps, err := c.Top(ctx, ctr)
	if err != nil {
		return nil, classify(op, node, fmt.Sprintf("container %q", ctr), err)
	}
	out := make([]hw.ContainerProcess, len(ps))
	for i, p := range ps {
		out[i] = hw.ContainerProcess{PID: p.PID, PPID: p.PPID, Cmdline: p.Cmdline, CPUPercent: p.CPUPercent, RSS: p.RSS, VMS: p.VMS, Elapsed: p.Elapsed}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out, nil
}
