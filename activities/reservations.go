package activities

import (
	"context"
	"time"

	"errors"
	"fmt"
	"go.temporal.io/sdk/activity"

	"go.temporal.io/sdk/temporal"

	"github.com/gridflow/gridflow/engine/hw"
	"github.com/gridflow/gridflow/engine/resv"
	"github.com/gridflow/gridflow/engine/store"
)

// SetReservationState records a state change. Moving out of a final state is
// refused by the store; that is not an error here, so a retried activity is
// idempotent.
func (a *Activities) SetReservationState(ctx context.Context, id, state, reason string) error {
	_, err := a.Store.SetReservationState(ctx, id, state, reason)
	if errors.Is(err, store.ErrFinal) {
		return nil
	}
	if errors.Is(err, store.ErrNotFound) {
		return temporal.NewNonRetryableApplicationError(err.Error(), "NotFound", err)
	}
	return err
}

// LaunchReservation marks the reservation's nodes reserved. Nodes that went
// down since the placement make the launch fail (no retry helps).
func (a *Activities) LaunchReservation(ctx context.Context, id string) error {
	r, err := a.Store.GetReservation(ctx, id)
	if err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), "NotFound", err)
	}
	states, err := a.Store.NodeStates(ctx)
	if err != nil {
		return err
	}
	for _, n := range r.Nodes {
		if states[n].State == "down" {
			err := fmt.Errorf("node %s is down: %s", n, states[n].Reason)
			return temporal.NewNonRetryableApplicationError(err.Error(), "NodeDown", err)
		}
	}
	// The nodes must answer: a launch on an unreachable node is retried, then
	// the reservation ends in error and releases what it holds.
	if a.Drivers != nil {
		drivers, err := a.Drivers(ctx)
		if err != nil {
			return err
		}
		for _, n := range r.Nodes {
			d, err := drivers.For(n)
			if err != nil {
				return temporal.NewNonRetryableApplicationError(err.Error(), "NoDriver", err)
			}
			if _, err := d.Info(ctx, n); err != nil {
				if hw.Retryable(err) {
					return fmt.Errorf("node %s does not answer: %w", n, err)
				}
				if hw.KindOf(err) != hw.Unsupported {
					return temporal.NewNonRetryableApplicationError(err.Error(), "NodeUnusable", err)
				}
			}
		}
	}
	for _, n := range r.Nodes {
		if err := a.Store.SetNodeState(ctx, n, "reserved", "reservation "+id); err != nil {
			return err
		}
	}
	return nil
}

// ReleaseReservation frees the reservation's nodes: a node still marked as held
// by this reservation becomes free; a node down or taken since is left alone.
func (a *Activities) ReleaseReservation(ctx context.Context, id string) error {
	r, err := a.Store.GetReservation(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	// A reservation ending cancels the deployments still writing its nodes.
	if a.Deployments != nil {
		ds, _, err := a.Store.ListDeployments(ctx, store.DeploymentFilter{Reservation: id})
		if err != nil {
			return err
		}
		for _, d := range ds {
			if d.State != store.DeployWaiting && d.State != store.DeployProcessing {
				continue
			}
			var re *resv.RequestError
			if err := a.Deployments.Cancel(ctx, d.ID); err != nil && !errors.As(err, &re) {
				return fmt.Errorf("cancel deployment %s of reservation %s: %w", d.ID, id, err)
			}
		}
	}
	// Stop what the reservation left running on its nodes (processes,
	// containers). A node that cannot be reached is retried; one that says
	// it cannot do this has nothing to stop.
	if a.Drivers != nil {
		drivers, err := a.Drivers(ctx)
		if err != nil {
			return err
		}
		for _, n := range r.Nodes {
			d, err := drivers.For(n)
			if err != nil {
				continue // the node left the testbed
			}
			// A node that does not answer must not keep the others
			// reserved: it is skipped (its agent marks it down), and the
			// rest are released.
			sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			_, err = d.StopReservation(sctx, n, id)
			cancel()
			if err != nil {
				activity.GetLogger(ctx).Warn("cannot stop what the reservation runs on a node", "reservation", id, "node", n, "error", err)
			}
		}
	}
	states, err := a.Store.NodeStates(ctx)
	if err != nil {
		return err
	}
	for _, n := range r.Nodes {
		if st, ok := states[n]; ok && st.Reason == "reservation "+id {
			if err := a.Store.SetNodeState(ctx, n, store.StateFree, "released by "+id); err != nil {
				return err
			}
		}
	}
	return nil
}
