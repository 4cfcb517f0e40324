package engine

import (
	"context"
	"strings"
	"sync"

	"github.com/gridflow/gridflow/engine/hw"
	_ "github.com/gridflow/gridflow/engine/hw/agentclient" // the "agent" driver
	_ "github.com/gridflow/gridflow/engine/hw/docker"      // the "docker" driver
	_ "github.com/gridflow/gridflow/engine/hw/sim"         // the "sim" driver
	"github.com/gridflow/gridflow/engine/store"
)

// driverCache keeps the drivers of the current testbed version: simulated
// nodes live in them, so every activity must see the same instance.
type driverCache struct {
	mu      sync.Mutex
	version string
	drivers *hw.Drivers
	opts    hw.Options
}

// SetDriverOptions sets how drivers reach hardware (agent token, TLS…).
func (e *Engine) SetDriverOptions(opts hw.Options) {
	e.drivers.mu.Lock()
	defer e.drivers.mu.Unlock()
	e.drivers.opts = opts
}

// Drivers returns the hardware drivers of the current testbed.
func (e *Engine) Drivers(ctx context.Context) (*hw.Drivers, error) {
	snap, err := e.Current(ctx)
	if err != nil {
		return nil, err
	}
	e.drivers.mu.Lock()
	defer e.drivers.mu.Unlock()
	if e.drivers.drivers != nil && e.drivers.version == snap.Version.UID {
		return e.drivers.drivers, nil
	}
	opts := e.drivers.opts
	user := opts.OnHealth
	// An agent that stops answering marks its node down, and free again when
	// it answers: the scheduler never places on a down node.
	opts.OnHealth = func(h hw.Health) {
		if user != nil {
			user(h)
		}
		ctx := context.Background()
		states, err := e.Store.NodeStates(ctx)
		if err != nil {
			e.Logger.Warn("cannot read node states", "node", h.Node, "err", err)
			return
		}
		cur := states[h.Node]
		switch {
		case !h.Up && cur.State != "down":
			err = e.Store.SetNodeState(ctx, h.Node, "down", "agent unreachable: "+h.LastError)
		case h.Up && cur.State == "down" && strings.HasPrefix(cur.Reason, "agent unreachable"):
			err = e.Store.SetNodeState(ctx, h.Node, store.StateFree, "agent answers again")
		}
		if err != nil {
			e.Logger.Warn("cannot record node health", "node", h.Node, "err", err)
		}
	}
	d, err := hw.ForTestbed(snap.Testbed, opts)
	if err != nil {
		return nil, err
	}
	// The previous drivers stay open: activities may still be using them.
	e.drivers.drivers, e.drivers.version = d, snap.Version.UID
	return d, nil
}
