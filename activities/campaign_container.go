package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/gridflow/gridflow/engine/hw"
	"github.com/gridflow/gridflow/engine/store"
)

// ContainerAction is a container step instance.
type ContainerAction struct {
	Node  string
	Image string
	Env   map[string]string
	// Ports maps a container port ("6379/tcp") to a host port.
	Ports map[string]int
	// Init are commands started in the container once it runs, in order.
	Init []RunAction
}

// containerID names a step instance's container: the same on every retry,
// so that creating it again finds it.
func containerID(id, address string) string {
	sum := sha256.Sum256([]byte(id + "\x00" + address))
	return "c" + hex.EncodeToString(sum[:8])
}

// containerNodeKey is the setting that says which node runs a container, so
// that a run step naming the container finds it.
func containerNodeKey(ctr string) string { return "campaign-container-node " + ctr }

// StartContainer creates and starts the container of a container step on a
// node of its owner's running reservation, tagged with that reservation so
// that releasing it removes the container, then starts the init processes.
func (a *Activities) StartContainer(ctx context.Context, id, address string, act ContainerAction) (json.RawMessage, error) {
	rec, err := a.Store.GetCampaign(ctx, id)
	if err != nil {
		return nil, err
	}
	rs, _, err := a.Store.ListReservations(ctx, store.ReservationFilter{Owner: rec.Owner, State: store.ResRunning})
	if err != nil {
		return nil, err
	}
	holder := ""
	for _, r := range rs {
		if slices.Contains(r.Nodes, act.Node) {
			holder = r.ID
		}
	}
	if holder == "" {
		return nil, nonRetryable(fmt.Errorf("%s: node %s is not in one of %s's running reservations", address, act.Node, rec.Owner), "Refused")
	}
	drivers, err := a.Drivers(ctx)
	if err != nil {
		return nil, err
	}
	d, err := drivers.For(act.Node)
	if err != nil {
		return nil, classify(address, err)
	}
	ctr := containerID(id, address)
	if err := a.Store.SetSetting(ctx, containerNodeKey(ctr), act.Node); err != nil {
		return nil, err
	}
	c, err := d.CreateContainer(ctx, act.Node, hw.ContainerSpec{ID: ctr, Image: act.Image, Env: act.Env, Ports: act.Ports, Reservation: holder})
	if err != nil {
		return nil, classify(address, err)
	}
	if c.State != hw.ContainerRunning {
		if c, err = d.StartContainer(ctx, act.Node, ctr); err != nil {
			return nil, classify(address, err)
		}
	}
	for i, p := range act.Init {
		name, args := p.Command, p.Args
		if len(args) == 0 {
			name, args = "/bin/sh", []string{"-c", p.Command}
		}
		if _, err := d.Exec(ctx, act.Node, ctr, hw.ProcessSpec{ID: fmt.Sprintf("init-%d", i), Name: name, Args: args, Env: p.Env, Pwd: p.Dir, Reservation: holder}); err != nil {
			return nil, classify(address, fmt.Errorf("init process %d: %w", i, err))
		}
	}
	return json.Marshal(map[string]any{"id": ctr, "node": act.Node, "image": act.Image})
}

// classify makes a hardware error the step can do nothing about final.
func classify(address string, err error) error {
	if hw.Retryable(err) {
		return err
	}
	return nonRetryable(fmt.Errorf("%s: %w", address, err), "Refused")
}
