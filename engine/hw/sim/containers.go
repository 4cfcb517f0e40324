package sim

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/gridflow/gridflow/engine/hw"
)

func stopContainer(c *hw.Container, now time.Time) {
	if c.State == hw.ContainerRunning {
		t := now
		c.State, c.ExitCode, c.Finished = hw.ContainerExited, 143, &t
	}
}

func copyContainer(c *hw.Container) hw.Container {
	out := *c
	out.Ports = maps.Clone(c.Ports)
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
	c := &hw.Container{ID: spec.ID, Image: spec.Image, Cmd: spec.Cmd, State: hw.ContainerCreated,
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

// StopContainer stops a running container.
func (d *Driver) StopContainer(ctx context.Context, uid, id string) (hw.Container, error) {
	n, c, err := d.container("stop container", uid, id)
	if err != nil {
		return hw.Container{}, err
	}
	defer n.mu.Unlock()
	stopContainer(c, time.Now())
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
	delete(n.containers, id)
	return nil
}
