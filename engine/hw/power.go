package hw

import (
	"context"
)

// PowerCycler cuts a node's power and turns it on again: the hard reboot
// kadeploy falls back on when a node does not come back from a soft reboot
// (a hung kernel, a system that never finished booting). Unlike Reboot it
// needs nothing from the node's system: whatever ran is killed at once, and
// the node boots again on its own.
//
// It is a separate interface so that drivers without out-of-band power
// control need not pretend to have one; PowerCycle tells them apart.
type PowerCycler interface {
	// PowerCycle cuts the power, restores it and returns once the node
	// answers on a new boot. It cannot be made conditional on a boot
	// generation: a node that is hung reports none. Calling it on a node
	// that is booting starts its boot again.
	PowerCycle(ctx context.Context, node string) (NodeInfo, error)
}

// PowerCycle power-cycles node through d when its driver can, and fails with
// Unsupported otherwise.
func PowerCycle(ctx context.Context, d Driver, node string) (NodeInfo, error) {
	pc, ok := d.(PowerCycler)
	if !ok {
		return NodeInfo{}, Errorf("power cycle", node, Unsupported, "the node's driver has no power control: only a soft reboot can be tried")
	}
	return pc.PowerCycle(ctx, node)
}
