package agentclient

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gridflow/gridflow/agent"
	"github.com/gridflow/gridflow/engine/hw"
)

func container(c agent.Container) hw.Container {
	return hw.Container{ID: c.ID, Image: c.Image, Cmd: c.Cmd, Env: c.Env, Hostname: c.Hostname, WorkingDir: c.WorkingDir,
		HostNetwork: c.HostNetwork, State: c.State, ExitCode: c.ExitCode, Ports: c.Ports,
		Reservation: c.Reservation, Created: c.Created, Started: c.Started, Finished: c.Finished}
}

// CreateContainer creates (and starts) a container through the node's Docker.
func (c *Client) CreateContainer(ctx context.Context, node string, spec hw.ContainerSpec) (hw.Container, error) {
	const op = "create container"
	if err := hw.ValidID(spec.ID); err != nil {
		return hw.Container{}, hw.Errorf(op, node, hw.Invalid, "%v", err)
	}
	start := !spec.NoStart
	req := agent.ContainerRequest{ID: spec.ID, Image: spec.Image, Cmd: spec.Cmd, Env: spec.Env, Hostname: spec.Hostname,
		WorkingDir: spec.WorkingDir, Ports: spec.Ports, HostNetwork: spec.HostNetwork, Reservation: spec.Reservation, Start: &start}
	var out agent.Container
	if err := c.call(ctx, request{op: op, node: node, method: http.MethodPost, path: "/v1/containers", long: true}, req, &out); err != nil {
		return hw.Container{}, err
	}
	return container(out), nil
}

// Container reports a container.
func (c *Client) Container(ctx context.Context, node, id string) (hw.Container, error) {
	var out agent.Container
	if err := c.call(ctx, request{op: "container status", node: node, method: http.MethodGet, path: "/v1/containers/" + seg(id)}, nil, &out); err != nil {
		return hw.Container{}, err
	}
	return container(out), nil
}

// ListContainers reports the containers the agent manages.
func (c *Client) ListContainers(ctx context.Context, node string) ([]hw.Container, error) {
	var cs []agent.Container
	if err := c.call(ctx, request{op: "list containers", node: node, method: http.MethodGet, path: "/v1/containers"}, nil, &cs); err != nil {
		return nil, err
	}
	out := make([]hw.Container, len(cs))
	for i, ct := range cs {
		out[i] = container(ct)
	}
	return out, nil
}

// StartContainer starts a container.
func (c *Client) StartContainer(ctx context.Context, node, id string) (hw.Container, error) {
	var out agent.Container
	if err := c.call(ctx, request{op: "start container", node: node, method: http.MethodPost, path: "/v1/containers/" + seg(id) + "/start", long: true}, nil, &out); err != nil {
		return hw.Container{}, err
	}
	return container(out), nil
}

// StopContainer stops a container.
func (c *Client) StopContainer(ctx context.Context, node, id string) (hw.Container, error) {
	var out agent.Container
	if err := c.call(ctx, request{op: "stop container", node: node, method: http.MethodPost, path: "/v1/containers/" + seg(id) + "/stop", long: true}, nil, &out); err != nil {
		return hw.Container{}, err
	}
	return container(out), nil
}

// DeleteContainer removes a container; one that is not there is not an error.
func (c *Client) DeleteContainer(ctx context.Context, node, id string) error {
	err := c.call(ctx, request{op: "delete container", node: node, method: http.MethodDelete, path: "/v1/containers/" + seg(id), long: true}, nil, nil)
	if errors.Is(err, hw.NotFound) {
		return nil
	}
	return err
}

func job(j agent.Job) hw.Process {
	return hw.Process{ID: j.ID, Name: j.Name, Args: j.Args, Env: j.Env, Pwd: j.Pwd, Reservation: j.Reservation,
		PID: j.PID, State: j.State, ExitCode: j.ExitCode, Signal: j.Signal, Started: j.Started, Ended: j.Ended}
}

func jobPath(container, id string) string {
	return "/v1/containers/" + seg(container) + "/jobs/" + seg(id)
}

// Exec starts a job inside a container, or finds the one started under spec.ID.
func (c *Client) Exec(ctx context.Context, node, ctr string, spec hw.ProcessSpec) (hw.Process, error) {
	const op = "start job"
	if err := hw.ValidID(spec.ID); err != nil {
		return hw.Process{}, hw.Errorf(op, node, hw.Invalid, "%v", err)
	}
	req := agent.JobRequest{ID: spec.ID, Name: spec.Name, Args: spec.Args, Env: spec.Env, Pwd: spec.Pwd, Reservation: spec.Reservation}
	var out agent.Job
	if err := c.call(ctx, request{op: op, node: node, method: http.MethodPost, path: "/v1/containers/" + seg(ctr) + "/jobs"}, req, &out); err != nil {
		return hw.Process{}, err
	}
	return job(out), nil
}

// ContainerJobs lists the jobs of a container.
func (c *Client) ContainerJobs(ctx context.Context, node, ctr string) ([]hw.Process, error) {
	var js []agent.Job
	if err := c.call(ctx, request{op: "list jobs", node: node, method: http.MethodGet, path: "/v1/containers/" + seg(ctr) + "/jobs"}, nil, &js); err != nil {
		return nil, err
	}
	out := make([]hw.Process, len(js))
	for i, j := range js {
		out[i] = job(j)
	}
	return out, nil
}

// ContainerJob reports a job.
func (c *Client) ContainerJob(ctx context.Context, node, ctr, id string) (hw.Process, error) {
	var out agent.Job
	if err := c.call(ctx, request{op: "job status", node: node, method: http.MethodGet, path: jobPath(ctr, id)}, nil, &out); err != nil {
		return hw.Process{}, err
	}
	return job(out), nil
}

// ContainerJobOutput returns the tail of a job's output.
func (c *Client) ContainerJobOutput(ctx context.Context, node, ctr, id string) (hw.Output, error) {
	var o agent.Output
	if err := c.call(ctx, request{op: "job output", node: node, method: http.MethodGet, path: jobPath(ctr, id) + "/output"}, nil, &o); err != nil {
		return hw.Output{}, err
	}
	return hw.Output{Stdout: []byte(o.Stdout), Stderr: []byte(o.Stderr), StdoutSize: o.StdoutSize, StderrSize: o.StderrSize, Truncated: o.Truncated}, nil
}

// KillContainerJob stops a job and its process group.
func (c *Client) KillContainerJob(ctx context.Context, node, ctr, id string) (hw.Process, error) {
	var out agent.Job
	if err := c.call(ctx, request{op: "kill job", node: node, method: http.MethodDelete, path: jobPath(ctr, id), long: true}, nil, &out); err != nil {
		return hw.Process{}, err
	}
	return job(out), nil
}

// ContainerProcesses lists the processes of a container.
func (c *Client) ContainerProcesses(ctx context.Context, node, ctr string) ([]hw.ContainerProcess, error) {
	var ps []agent.ContainerProcess
	if err := c.call(ctx, request{op: "container processes", node: node, method: http.MethodGet, path: "/v1/containers/" + seg(ctr) + "/processes"}, nil, &ps); err != nil {
		return nil, err
	}
	out := make([]hw.ContainerProcess, len(ps))
	for i, p := range ps {
		out[i] = hw.ContainerProcess{PID: p.PID, PPID: p.PPID, Cmdline: p.Cmdline, CPUPercent: p.CPUPercent, RSS: p.RSS, VMS: p.VMS,
			Elapsed: time.Duration(p.ElapsedSeconds * float64(time.Second))}
	}
	return out, nil
}
