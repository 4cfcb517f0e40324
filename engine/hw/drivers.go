package hw

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/gridflow/gridflow/dsl/testbed"
)

// Options configure the drivers ForTestbed builds.
type Options struct {
	// AgentToken is the bearer token of the gridflow agents.
	AgentToken string
	// AgentTLS, when set, makes the agent clients speak HTTPS with it.
	AgentTLS *tls.Config
	// AgentTimeout bounds a short agent call (default 30s); long ones (files,
	// installs, reboots) are bounded by their context only.
	AgentTimeout time.Duration
	// DownAfter is how many consecutive failed calls mark a node down
	// (default 3). A node is up again as soon as it answers.
	DownAfter int
	// OnHealth is called when a node goes down or comes back up.
	OnHealth func(Health)
	// SimDir is where simulated nodes keep the bytes of their files; empty:
	// a temporary directory, removed by Close.
	SimDir string
}

// Health is what a driver knows of a node's reachability.
type Health struct {
	Node string `json:"node"`
	Up   bool   `json:"up"`
	// ConsecutiveFailures counts the failed calls since the last answer.
	ConsecutiveFailures int       `json:"consecutiveFailures"`
	LastError           string    `json:"lastError,omitempty"`
	LastSeen            time.Time `json:"lastSeen"`
	// Since is when Up last changed.
	Since time.Time `json:"since"`
}

// HealthReporter is implemented by drivers that track node health.
type HealthReporter interface {
	Health(node string) (Health, bool)
}

// Factory builds the driver of one cluster.
type Factory func(c *testbed.Cluster, opts Options) (Driver, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]Factory{}
)

// Register makes a driver kind available to ForTestbed. Driver packages call
// it from init; registering a kind twice panics.
func Register(kind string, f Factory) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[kind]; dup {
		panic("hw: driver kind " + kind + " registered twice")
	}
	registry[kind] = f
}

// linkedKinds are implemented in this module: a testbed that uses one of
// them in a program that did not import its package is a wiring mistake.
var linkedKinds = map[string]string{
	testbed.DriverSim:    "github.com/gridflow/gridflow/engine/hw/sim",
	testbed.DriverAgent:  "github.com/gridflow/gridflow/engine/hw/agentclient",
	testbed.DriverDocker: "github.com/gridflow/gridflow/engine/hw/docker",
}

// Drivers maps every node of a testbed to the driver of its cluster.
type Drivers struct {
	nodes   map[string]nodeEntry
	drivers []Driver
}

type nodeEntry struct {
	driver  Driver // nil for a kind without implementation
	kind    string
	cluster string
}

// ForTestbed builds one driver per cluster of tb. Clusters of a kind that
// has no implementation are kept: their nodes answer every call with an
// Unsupported error.
func ForTestbed(tb *testbed.Testbed, opts Options) (*Drivers, error) {
	d := &Drivers{nodes: map[string]nodeEntry{}}
	registryMu.RLock()
	defer registryMu.RUnlock()
	for _, c := range tb.Clusters() {
		f, ok := registry[c.Driver.Kind]
		var drv Driver
		if ok {
			var err error
			if drv, err = f(c, opts); err != nil {
				d.Close()
				return nil, fmt.Errorf("hw: driver of cluster %s/%s: %w", c.Site, c.UID, err)
			}
			d.drivers = append(d.drivers, drv)
		} else if pkg, known := linkedKinds[c.Driver.Kind]; known {
			d.Close()
			return nil, fmt.Errorf("hw: cluster %s/%s uses driver %q, which this program does not link: import _ %q", c.Site, c.UID, c.Driver.Kind, pkg)
		}
		for _, n := range c.Nodes {
			d.nodes[n.UID] = nodeEntry{driver: drv, kind: c.Driver.Kind, cluster: c.Site + "/" + c.UID}
		}
	}
	return d, nil
}

// For returns the driver of a node.
func (d *Drivers) For(node string) (Driver, error) {
	e, ok := d.nodes[node]
	switch {
	case !ok:
		return nil, Errorf("find driver", node, NotFound, "no node %q in the testbed", node)
	case e.driver == nil:
		return nil, Errorf("find driver", node, Unsupported, "cluster %s uses driver %q, which Gridflow does not implement yet", e.cluster, e.kind)
	}
	return e.driver, nil
}

// Kind returns the driver kind of a node ("" for an unknown node).
func (d *Drivers) Kind(node string) string { return d.nodes[node].kind }

// Nodes returns the uids of every node, sorted.
func (d *Drivers) Nodes() []string {
	out := make([]string, 0, len(d.nodes))
	for n := range d.nodes {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Health returns what the node's driver knows of its reachability; false
// when the driver does not track it (simulated nodes).
func (d *Drivers) Health(node string) (Health, bool) {
	if hr, ok := d.nodes[node].driver.(HealthReporter); ok {
		return hr.Health(node)
	}
	return Health{}, false
}

// Close releases the drivers (temporary directories, idle connections).
func (d *Drivers) Close() error {
	var errs []error
	for _, drv := range slices.Backward(d.drivers) {
		if c, ok := drv.(io.Closer); ok {
			errs = append(errs, c.Close())
		}
	}
	d.drivers = nil
	return errors.Join(errs...)
}

// Sleep waits for d or until ctx ends; it is how drivers spend simulated or
// polling time without ignoring cancellation.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
