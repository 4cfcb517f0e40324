package engine

import (
	"context"
	"sync"

	"github.com/gridflow/gridflow/engine/hw"
	_ "github.com/gridflow/gridflow/engine/hw/agentclient" // the "agent" driver
	_ "github.com/gridflow/gridflow/engine/hw/sim"         // the "sim" driver
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
	d, err := hw.ForTestbed(snap.Testbed, e.drivers.opts)
	if err != nil {
		return nil, err
	}
	// The previous drivers stay open: activities may still be using them.
	e.drivers.drivers, e.drivers.version = d, snap.Version.UID
	return d, nil
}
