// Package resv is the reservation service: it places reservations race-free
// under the store's allocation lock, starts their workflows, and changes or
// cancels them. The API and the campaign activities both use it.
package resv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/gridflow/gridflow/dsl/testbed"
	"github.com/gridflow/gridflow/engine/sched"
	"github.com/gridflow/gridflow/engine/store"
)

// TaskQueue is the Temporal task queue every Gridflow worker polls.
const TaskQueue = "gridflow"

// WorkflowName is the registered name of the reservation workflow; the
// service starts it by name so that this package need not import workflows.
const WorkflowName = "Reservation"

// Signals a reservation workflow accepts.
const (
	SignalCancel   = "cancel"   // the owner deletes the reservation
	SignalPreempt  = "preempt"  // a normal reservation needs a besteffort one's nodes
	SignalWalltime = "walltime" // the end moved (payload: the new end); the store already holds it
)

// Params start a reservation workflow; its id is the reservation id.
type Params struct {
	ID    string
	Start time.Time
	End   time.Time
}

// Service places and changes reservations.
type Service struct {
	Store    *store.Store
	Temporal client.Client
	// Testbed returns the current testbed.
	Testbed func(ctx context.Context) (*testbed.Testbed, error)
	Logger  *slog.Logger
}

// NodeFilter selects nodes by hardware; zero fields match everything.
type NodeFilter struct {
	Cluster    string `json:"cluster,omitempty"`
	MinCores   int    `json:"min_cores,omitempty"`
	MinMemory  int64  `json:"min_memory,omitempty"`
	MinDisk    int64  `json:"min_disk,omitempty"`
	MinNetwork int64  `json:"min_network,omitempty"` // bits per second
	MinGPUs    int    `json:"min_gpus,omitempty"`
	GPUModel   string `json:"gpu_model,omitempty"`
	CPUModel   string `json:"cpu_model,omitempty"`
}

// Match reports whether a node passes the filter.
func (f NodeFilter) Match(n *testbed.Node) bool {
	p := n.Properties
	return (f.Cluster == "" || n.Cluster == f.Cluster) && p.Cores >= f.MinCores && p.Memory >= f.MinMemory &&
		p.Disk >= f.MinDisk && p.NetworkRate >= f.MinNetwork && p.GPUCount >= f.MinGPUs &&
		(f.GPUModel == "" || strings.Contains(strings.ToLower(p.GPUModel), strings.ToLower(f.GPUModel))) &&
		(f.CPUModel == "" || strings.Contains(strings.ToLower(p.CPUModel), strings.ToLower(f.CPUModel)))
}

// NodeGroup asks for Count nodes that pass Filter.
type NodeGroup struct {
	Count  int        `json:"nodes"`
	Filter NodeFilter `json:"filter"`
}

// ReservationRequest is what a user submits.
type ReservationRequest struct {
	Site     string        `json:"site"`
	Owner    string        `json:"owner"`
	Project  string        `json:"project,omitempty"`
	Name     string        `json:"name,omitempty"`
	Queue    string        `json:"queue"`
	Types    []string      `json:"types,omitempty"`
	Groups   []NodeGroup   `json:"groups"`
	Walltime time.Duration `json:"walltime"`
	Start    time.Time     `json:"start,omitzero"` // zero: as soon as possible
}

// RequestError is a request that can never be satisfied as asked: the API
// answers it with a 4xx and its message.
type RequestError struct {
	Status int // 404 unknown site, 409 conflict, 422 impossible request
	Msg    string
}

func (e *RequestError) Error() string { return e.Msg }

func reqErr(status int, format string, args ...any) error {
	return &RequestError{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// Policy is the scheduling policy the engine applies.
var Policy = sched.DefaultPolicy()

// gantt rebuilds the scheduler's view from the active reservations and the
// down nodes. It runs under the allocation lock.
func (e *Service) gantt(ctx context.Context, a *store.AllocTx, now time.Time) (*sched.Gantt, map[string]store.Reservation, error) {
	active, err := a.Active(ctx, now)
	if err != nil {
		return nil, nil, err
	}
	states, err := a.NodeStates(ctx)
	if err != nil {
		return nil, nil, err
	}
	g := sched.NewGantt()
	for n, st := range states {
		if st.State == "down" {
			g.SetDown(n, true)
		}
	}
	byID := make(map[string]store.Reservation, len(active))
	for _, r := range active {
		if !r.EndAt.After(r.StartAt) {
			continue // preempted before it started: holds nothing
		}
		start := r.StartAt
		if err := g.Add(sched.Allocation{ID: r.ID, Queue: sched.Queue(r.Queue), Nodes: r.Nodes, Start: start, End: r.EndAt}); err != nil {
			// The store holds overlapping allocations: never expected, and worth
			// refusing to schedule on top of.
			return nil, nil, fmt.Errorf("inconsistent allocations in the store: %w", err)
		}
		byID[r.ID] = r
	}
	return g, byID, nil
}

// Submit places a reservation race-free and starts its workflow.
func (e *Service) Submit(ctx context.Context, req ReservationRequest) (store.Reservation, error) {
	tb, err := e.Testbed(ctx)
	if err != nil {
		return store.Reservation{}, err
	}
	site := tb.Site(req.Site)
	if site == nil {
		return store.Reservation{}, reqErr(404, "no site %q", req.Site)
	}
	if len(req.Groups) == 0 {
		return store.Reservation{}, reqErr(422, "ask for at least one node (nodes = N)")
	}
	sreq := sched.Request{ID: store.NewReservationID(), Queue: sched.Queue(req.Queue), Walltime: req.Walltime, Start: req.Start}
	for i, g := range req.Groups {
		if g.Count <= 0 {
			return store.Reservation{}, reqErr(422, "group %d asks for %d nodes: ask for at least one", i+1, g.Count)
		}
		if g.Filter.Cluster != "" && tb.Cluster(req.Site, g.Filter.Cluster) == nil {
			return store.Reservation{}, reqErr(422, "site %s has no cluster %q", req.Site, g.Filter.Cluster)
		}
		var cands []string
		for _, c := range site.Clusters {
			for _, n := range c.Nodes {
				if g.Filter.Match(n) {
					cands = append(cands, n.UID)
				}
			}
		}
		sreq.Groups = append(sreq.Groups, sched.Group{Count: g.Count, Candidates: cands})
	}
	raw, _ := json.Marshal(req)
	now := time.Now()
	var res store.Reservation
	var preempted []string
	err = e.Store.WithAllocationLock(ctx, func(a *store.AllocTx) error {
		g, _, err := e.gantt(ctx, a, now)
		if err != nil {
			return err
		}
		p, err := g.Place(sreq, now, Policy)
		if err != nil {
			return schedError(err)
		}
		res = store.Reservation{ID: sreq.ID, Site: req.Site, Owner: req.Owner, Project: req.Project, Name: req.Name,
			Queue: req.Queue, Types: req.Types, Request: raw, State: store.ResWaiting, Nodes: p.Nodes,
			Walltime: req.Walltime, StartAt: p.Start, EndAt: p.End}
		if err := a.Insert(ctx, res, fmt.Sprintf("submitted: %d nodes from %s", len(p.Nodes), p.Start.UTC().Format(time.RFC3339))); err != nil {
			return err
		}
		for _, id := range p.Preempt {
			if err := a.SetWindow(ctx, id, p.Start, 0, "preempted by "+sreq.ID); err != nil {
				return err
			}
		}
		preempted = p.Preempt
		return nil
	})
	if err != nil {
		return store.Reservation{}, err
	}
	var started *serviceerror.WorkflowExecutionAlreadyStarted // by StartMissing, when this start was slow
	if _, err := e.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: res.ID, TaskQueue: TaskQueue},
		WorkflowName, Params{ID: res.ID, Start: res.StartAt, End: res.EndAt}); err != nil && !errors.As(err, &started) {
		// Nothing half-created: without a workflow the reservation would hold nodes forever.
		if derr := e.Store.DeleteReservation(context.WithoutCancel(ctx), res.ID); derr != nil {
			e.Logger.Error("cannot undo a reservation whose workflow did not start", "reservation", res.ID, "err", derr)
		}
		return store.Reservation{}, fmt.Errorf("start the reservation workflow: %w", err)
	}
	for _, id := range preempted {
		if err := e.Temporal.SignalWorkflow(ctx, id, "", SignalPreempt, sreq.ID); err != nil && !IsNotFound(err) {
			e.Logger.Warn("cannot signal a preempted reservation", "reservation", id, "err", err)
		}
	}
	res.CreatedAt, res.UpdatedAt = now.UTC(), now.UTC()
	return res, nil
}

// StartMissing starts the workflows of waiting reservations that should
// have started more than grace ago and have none. A reservation is recorded
// and then its workflow started: a replica that dies between the two (killed
// while Temporal was slow to answer) leaves a reservation that would wait
// forever. Every replica calls this from time to time; a workflow is never
// started twice (Temporal refuses a second one with the same id).
func (e *Service) StartMissing(ctx context.Context, grace time.Duration) (int, error) {
	now := time.Now()
	waiting, _, err := e.Store.ListReservations(ctx, store.ReservationFilter{State: store.ResWaiting, To: now.Add(-grace)})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range waiting {
		if r.CreatedAt.After(now.Add(-grace)) {
			continue // its submission may still be starting it
		}
		if _, err := e.Temporal.DescribeWorkflowExecution(ctx, r.ID, ""); err == nil || !IsNotFound(err) {
			if err != nil {
				return n, err
			}
			continue
		}
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		_, err := e.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: r.ID, TaskQueue: TaskQueue},
			WorkflowName, Params{ID: r.ID, Start: r.StartAt, End: r.EndAt})
		if err != nil && !errors.As(err, &started) {
			return n, fmt.Errorf("start the workflow of reservation %s: %w", r.ID, err)
		}
		if err == nil {
			n++
			e.Logger.Warn("started the missing workflow of a reservation (its submission was cut short)", "reservation", r.ID)
		}
	}
	return n, nil
}

func schedError(err error) error {
	var never *sched.NeverFitsError
	var wall *sched.WalltimeError
	var conflict *sched.ConflictError
	switch {
	case errors.As(err, &never):
		return reqErr(422, "%s", never.Error())
	case errors.As(err, &wall):
		return reqErr(422, "%s", wall.Error())
	case errors.As(err, &conflict):
		return reqErr(409, "%s", conflict.Error())
	case errors.Is(err, sched.ErrStartInPast):
		return reqErr(422, "%s", err.Error())
	case errors.Is(err, sched.ErrBadRequest):
		return reqErr(422, "%s", err.Error())
	}
	return err
}

// IsNotFound reports whether Temporal answered that a workflow does not exist.
func IsNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}

// Cancel asks a reservation's workflow to end it (202: it happens
// asynchronously; the nodes are released by the workflow).
func (e *Service) Cancel(ctx context.Context, id string) error {
	r, err := e.Store.GetReservation(ctx, id)
	if err != nil {
		return err
	}
	if !slices.Contains(store.ActiveStates, r.State) {
		return reqErr(409, "reservation %s already ended (%s)", id, r.State)
	}
	if err := e.Temporal.SignalWorkflow(ctx, id, "", SignalCancel, nil); err != nil {
		if IsNotFound(err) {
			return reqErr(409, "reservation %s already ended", id)
		}
		return err
	}
	return nil
}

// SetWalltime changes a reservation's walltime (extend or shorten) when the
// nodes stay free for it and the queue allows it.
func (e *Service) SetWalltime(ctx context.Context, id string, walltime time.Duration) (store.Reservation, error) {
	now := time.Now()
	var newEnd time.Time
	err := e.Store.WithAllocationLock(ctx, func(a *store.AllocTx) error {
		g, byID, err := e.gantt(ctx, a, now)
		if err != nil {
			return err
		}
		r, ok := byID[id]
		if !ok {
			cur, err := a.Get(ctx, id)
			if err != nil {
				return err
			}
			return reqErr(409, "reservation %s already ended (%s): its walltime cannot change", id, cur.State)
		}
		newEnd = r.StartAt.Add(walltime)
		if !newEnd.After(now) {
			return reqErr(422, "a walltime of %s would end reservation %s in the past; cancel it instead", walltime, id)
		}
		preempted, err := g.Resize(id, newEnd, Policy)
		if err != nil {
			return schedError(err)
		}
		if len(preempted) > 0 {
			return reqErr(409, "extending would need nodes of besteffort reservations %v", preempted)
		}
		return a.SetWindow(ctx, id, newEnd, walltime, fmt.Sprintf("walltime set to %s", walltime))
	})
	if err != nil {
		return store.Reservation{}, err
	}
	if err := e.Temporal.SignalWorkflow(ctx, id, "", SignalWalltime, newEnd); err != nil && !IsNotFound(err) {
		return store.Reservation{}, err
	}
	return e.Store.GetReservation(ctx, id)
}
