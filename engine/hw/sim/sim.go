// Package sim simulates the nodes of "sim" clusters inside the engine. A
// simulated node behaves like hardware, only faster and deterministic:
//
//   - a reboot takes the cluster's boot_time and an install its deploy_time
//     then boot_time; both end early when the context does, but the node
//     stays busy (Unavailable) for the whole time, as hardware would;
//   - faults are injected with the cluster's failure_rate, drawn from a
//     math/rand generator seeded with the cluster seed, the node uid and the
//     node's call counter: the same calls on the same testbed fail the same
//     way on every run. Reboots, installs (which fail mid-deploy, leaving the
//     node without a bootable environment), file transfers, process and
//     container starts can fail; the failures are retryable;
//   - files have real bytes (kept on disk under Options.Dir) and real
//     checksums, and move at the cluster's copy_rate;
//   - processes "run" a small set of commands (sleep, true, false, hostname,
//     echo, exit, and sh -c scripts of those) with plausible output, exit
//     codes and durations;
//   - environments are checked by checksum: a public environment of the
//     built-in catalog (hw.PublicEnvironments) by its catalog checksum, an
//     archive stored on the node (file:<path>) or served over http(s) by the
//     checksum of its real bytes.
//
// Importing the package registers it for the driver kind "sim".
package sim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/gridflow/gridflow/dsl/testbed"
	"github.com/gridflow/gridflow/engine/hw"
)

func init() {
	hw.Register(testbed.DriverSim, func(c *testbed.Cluster, o hw.Options) (hw.Driver, error) {
		return New(c, Options{Dir: o.SimDir})
	})
}

// Defaults for a cluster whose testbed gives no sim block (the testbed
// language documents the same values).
const (
	DefaultBootTime   = 5 * time.Second
	DefaultDeployTime = 15 * time.Second
	DefaultCopyRate   = 10_000_000_000 // 10 Gbps
)

// Options configure a simulated cluster.
type Options struct {
	// Dir keeps the bytes of the nodes' files, one subdirectory per node;
	// empty: a temporary directory that Close removes.
	Dir string
}

// Driver simulates the nodes of one cluster. It is safe for concurrent use.
type Driver struct {
	cluster string
	cfg     testbed.SimConfig
	nodes   map[string]*node

	dirMu  sync.Mutex
	dir    string
	ownDir bool
}

var _ hw.Driver = (*Driver)(nil)

// New simulates the nodes of c. Nodes start up, in generation 1, running
// hw.DefaultEnvironment.
func New(c *testbed.Cluster, opts Options) (*Driver, error) {
	cfg := testbed.SimConfig{BootTime: DefaultBootTime, DeployTime: DefaultDeployTime, CopyRate: DefaultCopyRate}
	if c.Driver.Sim != nil {
		cfg = *c.Driver.Sim
	} else {
		h := fnv.New64a()
		h.Write([]byte(c.Site + "/" + c.UID))
		cfg.Seed = int64(h.Sum64() >> 1)
	}
	switch {
	case cfg.FailureRate < 0 || cfg.FailureRate > 1:
		return nil, fmt.Errorf("sim: failure rate %v of cluster %s is not in [0, 1]", cfg.FailureRate, c.UID)
	case cfg.CopyRate <= 0:
		return nil, fmt.Errorf("sim: copy rate of cluster %s must be positive", c.UID)
	case cfg.BootTime < 0 || cfg.DeployTime < 0:
		return nil, fmt.Errorf("sim: negative timings for cluster %s", c.UID)
	}
	d := &Driver{cluster: c.Site + "/" + c.UID, cfg: cfg, nodes: map[string]*node{}, dir: opts.Dir}
	now := time.Now()
	def, _ := hw.LookupPublicEnvironment(hw.DefaultEnvironment)
	for _, n := range c.Nodes {
		h := fnv.New64a()
		h.Write([]byte(n.UID))
		d.nodes[n.UID] = &node{
			d: d, uid: n.UID, props: n.Properties, key: h.Sum64(),
			generation: 1, bootTime: now,
			env:   &hw.Environment{Name: def.Name, Checksum: def.Checksum, InstalledAt: now},
			pid:   1000,
			procs: map[string]*proc{}, files: map[string]fileMeta{}, containers: map[string]*hw.Container{},
			cjobs: map[string]map[string]*proc{},
		}
	}
	return d, nil
}

// Close removes the temporary directory of the files, if the driver made it.
func (d *Driver) Close() error {
	d.dirMu.Lock()
	defer d.dirMu.Unlock()
	if d.ownDir && d.dir != "" {
		err := os.RemoveAll(d.dir)
		d.dir, d.ownDir = "", false
		return err
	}
	return nil
}

// node is one simulated machine.
type node struct {
	d     *Driver
	uid   string
	props testbed.Properties
	key   uint64 // hash of the uid, for the fault generator

	mu         sync.Mutex
	generation int64
	bootTime   time.Time
	busyUntil  time.Time // booting or deploying until then
	busyWhat   string
	env        *hw.Environment
	calls      uint64
	pid        int
	procs      map[string]*proc
	files      map[string]fileMeta
	containers map[string]*hw.Container
	cjobs      map[string]map[string]*proc // container id → job id → job (containers.go)
	ports      int
	hung       bool  // a boot hung: the node answers nothing until a power cycle
	hangBoots  int   // boots still to hang (HangBoots)
	cycles     int64 // power cycles: an install knows its write was cut
}

func (d *Driver) node(op, uid string) (*node, error) {
	n, ok := d.nodes[uid]
	if !ok {
		return nil, hw.Errorf(op, uid, hw.NotFound, "no node %q in simulated cluster %s", uid, d.cluster)
	}
	return n, nil
}

// readyLocked fails while the node boots or deploys, and while it is hung.
func (n *node) readyLocked(op string) error {
	if n.hung {
		return n.hungError(op)
	}
	if now := time.Now(); now.Before(n.busyUntil) {
		return hw.Errorf(op, n.uid, hw.Unavailable, "node is %s for another %s", n.busyWhat, n.busyUntil.Sub(now).Round(time.Millisecond))
	}
	return nil
}

// drawLocked returns the next number of the node's fault generator. It
// depends only on the cluster seed, the node and how many calls drew before.
func (n *node) drawLocked() *rand.Rand {
	n.calls++
	return rand.New(rand.NewPCG(uint64(n.d.cfg.Seed), n.key^(n.calls*0x9e3779b97f4a7c15)))
}

// injectLocked decides whether this call fails.
func (n *node) injectLocked(op string) error {
	r := n.drawLocked()
	if n.d.cfg.FailureRate > 0 && r.Float64() < n.d.cfg.FailureRate {
		return &hw.Error{Op: op, Node: n.uid, Kind: hw.Failed, Retryable: true,
			Err: fmt.Errorf("injected fault (call %d, seed %d, failure rate %g)", n.calls, n.d.cfg.Seed, n.d.cfg.FailureRate)}
	}
	return nil
}

// stopAllLocked is what a reboot does to the running things.
func (n *node) stopAllLocked(now time.Time) {
	for _, p := range n.procs {
		p.killLocked(now)
	}
	for _, c := range n.containers {
		n.stopContainerLocked(c, now)
	}
}

// Info reports the simulated facts of the node.
func (d *Driver) Info(ctx context.Context, uid string) (hw.NodeInfo, error) {
	n, err := d.node("info", uid)
	if err != nil {
		return hw.NodeInfo{}, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.readyLocked("info"); err != nil {
		return hw.NodeInfo{}, err
	}
	return n.infoLocked(time.Now()), nil
}

func (n *node) infoLocked(now time.Time) hw.NodeInfo {
	cpus := max(n.props.Cores, 1)
	total := uint64(n.props.Memory)
	if total == 0 {
		total = 8 << 30
	}
	used := total / 20 // the system
	running := 0
	for _, p := range n.procs {
		if p.statusLocked(now).State == hw.ProcessRunning {
			running++
			used += uint64(p.rss)
		}
	}
	for _, c := range n.containers {
		if c.State == hw.ContainerRunning {
			used += 64 << 20
		}
	}
	used = min(used, total)
	avail := total - used
	mem := hw.Memory{
		Total: total, Available: avail, Used: used, UsedPercent: float64(used) / float64(total) * 100,
		Free: avail / 10 * 8, Cached: avail / 100 * 15, Buffers: avail / 100 * 2,
		Active: used/10*6 + avail/100*5, Inactive: avail / 100 * 10,
	}
	diskTotal := uint64(n.props.Disk)
	if diskTotal == 0 {
		diskTotal = 100_000_000_000
	}
	diskUsed := uint64(2_000_000_000)
	for _, f := range n.files {
		diskUsed += uint64(f.size)
	}
	diskUsed = min(diskUsed, diskTotal)
	load := float64(min(running, 4*cpus))
	var env *hw.Environment
	if n.env != nil {
		e := *n.env
		env = &e
	}
	return hw.NodeInfo{
		Node: n.uid, Hostname: n.uid, CPUs: cpus,
		Load:       hw.Load{One: load, Five: load * 0.6, Fifteen: load * 0.3},
		BootID:     bootID(n.d.cfg.Seed, n.uid, n.generation),
		Generation: n.generation, BootTime: n.bootTime, Uptime: now.Sub(n.bootTime),
		Environment: env,
		Memory:      mem,
		Disk: hw.Disk{Total: diskTotal, Used: diskUsed, Free: diskTotal - diskUsed,
			UsedPercent: float64(diskUsed) / float64(diskTotal) * 100},
		Containers: true,
	}
}

// bootID is a uuid-shaped id that differs per boot and is stable per run.
func bootID(seed int64, uid string, gen int64) string {
	s := sha256.Sum256([]byte(strconv.FormatInt(seed, 10) + "/" + uid + "/" + strconv.FormatInt(gen, 10)))
	h := hex.EncodeToString(s[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// Reboot stops what the node runs and takes the cluster's boot time.
func (d *Driver) Reboot(ctx context.Context, uid string, opts hw.RebootOptions) (hw.NodeInfo, error) {
	const op = "reboot"
	n, err := d.node(op, uid)
	if err != nil {
		return hw.NodeInfo{}, err
	}
	n.mu.Lock()
	if err := n.readyLocked(op); err != nil {
		n.mu.Unlock()
		return hw.NodeInfo{}, err
	}
	now := time.Now()
	if opts.IfGeneration != 0 && n.generation != opts.IfGeneration {
		info := n.infoLocked(now)
		n.mu.Unlock()
		return info, nil
	}
	if err := n.injectLocked(op); err != nil {
		n.mu.Unlock()
		return hw.NodeInfo{}, err
	}
	n.stopAllLocked(now)
	n.generation++
	n.busyUntil, n.busyWhat = now.Add(d.cfg.BootTime), "booting"
	n.bootTime = n.busyUntil
	n.startBootLocked()
	n.mu.Unlock()
	return n.waitBoot(ctx, op)
}

// waitBoot waits until the node is up and returns its facts; a boot that
// hung fails once its time has passed.
func (n *node) waitBoot(ctx context.Context, op string) (hw.NodeInfo, error) {
	n.mu.Lock()
	until := n.busyUntil
	n.mu.Unlock()
	if err := hw.Sleep(ctx, time.Until(until)); err != nil {
		return hw.NodeInfo{}, fmt.Errorf("%s on %s: %w (the node goes on booting)", op, n.uid, err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.hung {
		return hw.NodeInfo{}, n.notBack(op)
	}
	return n.infoLocked(time.Now()), nil
}

// StopReservation stops the processes and containers of a reservation.
func (d *Driver) StopReservation(ctx context.Context, uid, reservation string) (int, error) {
	n, err := d.node("stop reservation", uid)
	if err != nil {
		return 0, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.readyLocked("stop reservation"); err != nil {
		return 0, err
	}
	now, count := time.Now(), 0
	for _, p := range n.procs {
		if p.spec.Reservation == reservation && p.statusLocked(now).State == hw.ProcessRunning {
			p.killLocked(now)
			count++
		}
	}
	count += n.removeContainersLocked(reservation, now)
	return count, nil
}

// ctxErr wraps a context error of op.
func ctxErr(op, uid string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s on %s: %w", op, uid, err)
	}
	return err
}
