package agentclient

import (
	"context"
	"errors"
	"net/http"

	"github.com/gridflow/gridflow/agent"
	"github.com/gridflow/gridflow/engine/hw"
)

func container(c agent.Container) hw.Container {
	return hw.Container{ID: c.ID, Image: c.Image, Cmd: c.Cmd, State: c.State, ExitCode: c.ExitCode, Ports: c.Ports,
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
		Ports: spec.Ports, Reservation: spec.Reservation, Start: &start}
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
