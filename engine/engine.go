// Package engine is Gridflow's composition root: it owns the store, the Temporal
// client and the loaded testbed, and offers the API layer the few operations that
// span them. It knows nothing of HTTP.
package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"go.temporal.io/sdk/client"

	"github.com/gridflow/gridflow/dsl/testbed"
	"github.com/gridflow/gridflow/engine/deploy"
	"github.com/gridflow/gridflow/engine/hw"
	"github.com/gridflow/gridflow/engine/jobs"
	"github.com/gridflow/gridflow/engine/resv"
	"github.com/gridflow/gridflow/engine/store"
	"github.com/gridflow/gridflow/engine/transfer"
	"github.com/gridflow/gridflow/engine/transfer/optimizer"
	"github.com/gridflow/gridflow/engine/transfer/storage"
)

// TaskQueue is the Temporal task queue every Gridflow worker polls.
const TaskQueue = resv.TaskQueue

// Engine ties the durable pieces together. Several engines (replicas) may share one
// store and one Temporal cluster; none keeps state that the others need.
type Engine struct {
	Store    *store.Store
	Temporal client.Client // nil when running without Temporal (some API tests)
	Logger   *slog.Logger
	// Reservations places and changes reservations.
	Reservations *resv.Service
	// Deployments deploys environments on reserved nodes.
	Deployments *deploy.Service
	// Transfers submits and controls transfer jobs; its endpoints copy.
	Transfers *transfer.Service
	// Jobs submits and kills grid jobs and keeps their sandboxes.
	Jobs *jobs.Service
	// JobNodeLostAfter is how long a job's node may not answer before the
	// job moves to another node (0: the activities' default).
	JobNodeLostAfter time.Duration

	drivers    driverCache
	nodeStates nodeStatesCache

	mu        sync.Mutex
	snapshots map[string]*Snapshot // parsed testbed versions by uid; versions are immutable
	latest    *Snapshot
	checked   time.Time
}

// Snapshot is one version of the testbed reference, parsed.
type Snapshot struct {
	Version store.TestbedVersion
	Testbed *testbed.Testbed
}

// New builds an engine over an opened, migrated store.
func New(st *store.Store, tc client.Client, logger *slog.Logger) *Engine {
	if logger == nil {
		logger = slog.Default()
	}
	e := &Engine{Store: st, Logger: logger, snapshots: map[string]*Snapshot{}}
	e.Reservations = &resv.Service{Store: st, Logger: logger, Testbed: func(ctx context.Context) (*testbed.Testbed, error) {
		s, err := e.Current(ctx)
		if err != nil {
			return nil, err
		}
		return s.Testbed, nil
	}}
	e.Deployments = &deploy.Service{Store: st, Logger: logger, Testbed: e.Reservations.Testbed}
	e.Transfers = &transfer.Service{Store: st, Logger: logger, Optimizer: optimizer.Default,
		Endpoints: &storage.Endpoints{Nodes: e.nodeFiles}}
	e.Jobs = &jobs.Service{Store: st, Logger: logger, Testbed: e.Reservations.Testbed, Sandboxes: &jobs.Sandboxes{Store: st}}
	e.SetTemporal(tc)
	return e
}

// SetTemporal connects the engine to Temporal once a client exists.
func (e *Engine) SetTemporal(tc client.Client) {
	e.Temporal = tc
	e.Reservations.Temporal = tc
	e.Deployments.Temporal = tc
	e.Transfers.Temporal = tc
	e.Jobs.Temporal = tc
}

// SetSandboxes says where grid job sandboxes are kept and how large one may
// be (0: jobs.DefaultSandboxLimit).
func (e *Engine) SetSandboxes(dir string, limit int64) {
	e.Jobs.Sandboxes.Dir, e.Jobs.Sandboxes.Limit = dir, limit
}

// SetStoragePolicy says which file roots and http(s) hosts transfers may use.
func (e *Engine) SetStoragePolicy(p storage.Policy) { e.Transfers.Endpoints.Policy = p }

// nodeFiles gives transfers the files of a node through its driver.
func (e *Engine) nodeFiles(ctx context.Context, node string) (hw.Files, error) {
	ds, err := e.Drivers(ctx)
	if err != nil {
		return nil, hw.Errorf("files", node, hw.Unavailable, "hardware drivers: %v", err)
	}
	return ds.For(node)
}

// latestTTL bounds how stale a replica's view of the current testbed can be when
// another replica loads a new one.
const latestTTL = 2 * time.Second

// LoadTestbed parses an HCL testbed and, when it differs from the current one,
// records it as a new version. The returned diagnostics carry file:line:column.
func (e *Engine) LoadTestbed(ctx context.Context, src []byte, filename, author, message string) (snap *Snapshot, created bool, files map[string]*hcl.File, diags hcl.Diagnostics) {
	p := testbed.NewParser()
	tb, diags := p.Parse(src, filename)
	if diags.HasErrors() {
		return nil, false, p.Files(), diags
	}
	raw, err := json.Marshal(tb)
	if err != nil {
		return nil, false, p.Files(), hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot encode testbed", Detail: err.Error()}}
	}
	if message == "" {
		message = "load " + filename
	}
	v, created, err := e.Store.SaveTestbedVersion(ctx, store.TestbedVersion{Message: message, Author: author, Snapshot: raw})
	if err != nil {
		return nil, false, p.Files(), hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot save testbed version", Detail: err.Error()}}
	}
	snap = &Snapshot{Version: v, Testbed: tb}
	e.mu.Lock()
	e.snapshots[v.UID] = snap
	e.latest, e.checked = snap, time.Now()
	e.mu.Unlock()
	return snap, created, p.Files(), diags
}

// ErrNoTestbed is returned before any testbed was loaded.
var ErrNoTestbed = errors.New("no testbed loaded: start the engine with a testbed")

// Current returns the newest testbed version, re-reading the store at most every
// latestTTL so that a version loaded by another replica shows up.
func (e *Engine) Current(ctx context.Context) (*Snapshot, error) {
	e.mu.Lock()
	if e.latest != nil && time.Since(e.checked) < latestTTL {
		s := e.latest
		e.mu.Unlock()
		return s, nil
	}
	e.mu.Unlock()
	v, err := e.Store.LatestTestbedVersion(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoTestbed
	}
	if err != nil {
		return nil, err
	}
	s, err := e.snapshot(ctx, v)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.latest, e.checked = s, time.Now()
	e.mu.Unlock()
	return s, nil
}

// Version returns the testbed as it was at version uid.
func (e *Engine) Version(ctx context.Context, uid string) (*Snapshot, error) {
	e.mu.Lock()
	s, ok := e.snapshots[uid]
	e.mu.Unlock()
	if ok {
		return s, nil
	}
	v, err := e.Store.GetTestbedVersion(ctx, uid)
	if err != nil {
		return nil, err
	}
	return e.snapshot(ctx, v)
}

// At returns the testbed as it was at time t.
func (e *Engine) At(ctx context.Context, t time.Time) (*Snapshot, error) {
	v, err := e.Store.TestbedVersionAt(ctx, t)
	if err != nil {
		return nil, err
	}
	return e.snapshot(ctx, v)
}

// AllVersions returns every version, newest first, parsed (for per-resource history).
func (e *Engine) AllVersions(ctx context.Context) ([]*Snapshot, error) {
	metas, _, err := e.Store.ListTestbedVersions(ctx, 0, 1<<30)
	if err != nil {
		return nil, err
	}
	out := make([]*Snapshot, 0, len(metas))
	for _, m := range metas {
		s, err := e.Version(ctx, m.UID)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (e *Engine) snapshot(ctx context.Context, v store.TestbedVersion) (*Snapshot, error) {
	e.mu.Lock()
	s, ok := e.snapshots[v.UID]
	e.mu.Unlock()
	if ok {
		return s, nil
	}
	if v.Snapshot == nil {
		full, err := e.Store.GetTestbedVersion(ctx, v.UID)
		if err != nil {
			return nil, err
		}
		v = full
	}
	var tb testbed.Testbed
	if err := json.Unmarshal(v.Snapshot, &tb); err != nil {
		return nil, fmt.Errorf("testbed version %s is unreadable: %w", v.UID, err)
	}
	v.Snapshot = nil // keep the parsed form only
	s = &Snapshot{Version: v, Testbed: &tb}
	e.mu.Lock()
	e.snapshots[v.UID] = s
	e.mu.Unlock()
	return s, nil
}

// nodeStatesTTL bounds how stale a replica's view of node states written by
// another replica can be; changes made through this replica show at once.
const nodeStatesTTL = time.Second

type nodeStatesCache struct {
	mu     sync.Mutex
	gen    uint64
	at     time.Time
	states map[string]store.NodeState
}

// NodeStates returns the live state of every node that is not free. Reading
// them is on the path of every node GET, so they are cached briefly.
func (e *Engine) NodeStates(ctx context.Context) (map[string]store.NodeState, error) {
	c := &e.nodeStates
	gen := e.Store.NodeStatesGeneration()
	c.mu.Lock()
	if c.states != nil && c.gen == gen && time.Since(c.at) < nodeStatesTTL {
		st := c.states
		c.mu.Unlock()
		return st, nil
	}
	c.mu.Unlock()
	st, err := e.Store.NodeStates(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.states, c.gen, c.at = st, gen, time.Now()
	c.mu.Unlock()
	return st, nil
}

// Ready reports whether the store and Temporal answer.
func (e *Engine) Ready(ctx context.Context) error {
	if err := e.Store.Ping(ctx); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if e.Temporal != nil {
		if _, err := e.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
			return fmt.Errorf("temporal: %w", err)
		}
	}
	return nil
}
