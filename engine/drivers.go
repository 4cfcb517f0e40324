package engine

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

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
			err = e.nodeAnswers(ctx, h.Node)
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

// nodeAnswers records that a node marked down because its agent did not
// answer answers again: it is free, or, while a running reservation holds
// it, that reservation's again (so that the reservation's release frees it).
func (e *Engine) nodeAnswers(ctx context.Context, node string) error {
	state, reason := store.StateFree, "agent answers again"
	running, _, err := e.Store.ListReservations(ctx, store.ReservationFilter{State: store.ResRunning})
	if err != nil {
		return err
	}
	for _, r := range running {
		if slices.Contains(r.Nodes, node) {
			state, reason = "reserved", "reservation "+r.ID
			break
		}
	}
	return e.Store.SetNodeState(ctx, node, state, reason)
}

// WatchDownNodes asks the nodes marked down because their agent did not
// answer, every interval until ctx ends, whether they answer again. Nothing
// else calls a down node (the scheduler places nothing on it), so without
// this a node that came back would stay down until someone asked it
// something; and a replica that did not mark the node down itself would not
// notice the change. It runs in every replica; the calls are cheap.
func (e *Engine) WatchDownNodes(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		states, err := e.Store.NodeStates(ctx)
		if err != nil {
			continue
		}
		for node, st := range states {
			if st.State != "down" || !strings.HasPrefix(st.Reason, "agent unreachable") {
				continue
			}
			ds, err := e.Drivers(ctx)
			if err != nil {
				break
			}
			d, err := ds.For(node)
			if err != nil {
				continue // the node left the testbed
			}
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err = d.Info(pctx, node)
			cancel()
			if err == nil {
				if err := e.nodeAnswers(ctx, node); err != nil && ctx.Err() == nil {
					e.Logger.Warn("cannot record that a node answers again", "node", node, "err", err)
				}
			}
		}
	}
}
