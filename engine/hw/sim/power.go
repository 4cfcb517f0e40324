package sim

import (
	"context"
	"fmt"
	"time"

	"github.com/gridflow/gridflow/engine/hw"
)

var _ hw.PowerCycler = (*Driver)(nil)

// powerCycleTime is how long a power cycle keeps a node busy: the power
// off, the firmware's checks of a cold start (a fifth of the boot time),
// then the boot.
func (d *Driver) powerCycleTime() time.Duration { return d.cfg.BootTime + d.cfg.BootTime/5 }

// PowerCycle cuts the node's power and restores it, whatever the node does:
// it works on a node that is hung, booting or being deployed (the
// deployment is lost: the node keeps no bootable environment). Processes
// and containers are killed, and the node boots again in a new generation,
// which takes the cluster's boot time and a fifth more. Like a node's
// management controller, the call can fail (the cluster's failure rate).
func (d *Driver) PowerCycle(ctx context.Context, uid string) (hw.NodeInfo, error) {
	const op = "power cycle"
	n, err := d.node(op, uid)
	if err != nil {
		return hw.NodeInfo{}, err
	}
	n.mu.Lock()
	if err := n.injectLocked(op); err != nil {
		n.mu.Unlock()
		return hw.NodeInfo{}, err
	}
	now := time.Now()
	n.stopAllLocked(now)
	n.cycles++
	if n.busyWhat == "deploying" && now.Before(n.busyUntil) {
		n.env = nil // the image was half written
	}
	n.generation++
	n.busyUntil, n.busyWhat = now.Add(d.powerCycleTime()), "power cycling"
	n.bootTime = n.busyUntil
	n.startBootLocked()
	n.mu.Unlock()
	return n.waitBoot(ctx, op)
}

// HangBoots makes the node's next count boots hang, as a kernel that panics
// or a root file system that does not mount would: once such a boot
// starts, the node answers nothing (Unavailable), a soft reboot included,
// until a power cycle, whose own boot hangs too while count lasts. It is
// for tests and fault drills: the testbed's failure_rate never hangs a
// node. A count of 0 cancels the hangs to come, not a hang under way.
func (d *Driver) HangBoots(uid string, count int) error {
	n, err := d.node("hang boots", uid)
	if err != nil {
		return err
	}
	if count < 0 {
		return hw.Errorf("hang boots", uid, hw.Invalid, "count %d is negative", count)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.hangBoots = count
	return nil
}

// startBootLocked is called as a boot starts: a boot marked to hang leaves
// the node hung.
func (n *node) startBootLocked() {
	n.hung = false
	if n.hangBoots > 0 {
		n.hangBoots--
		n.hung = true
	}
}

// hungError is what a hung node "answers".
func (n *node) hungError(op string) error {
	return hw.Errorf(op, n.uid, hw.Unavailable, "node does not answer: boot %d never completed (a power cycle restarts it)", n.generation)
}

// notBack is the error of a call that waited for a boot that hung.
func (n *node) notBack(op string) error {
	return &hw.Error{Op: op, Node: n.uid, Kind: hw.Unavailable, Retryable: true,
		Err: fmt.Errorf("the node did not come back from boot %d: it does not answer (a power cycle restarts it)", n.generation)}
}
