package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/gridflow/gridflow/activities"
	"github.com/gridflow/gridflow/engine/resv"
	"github.com/gridflow/gridflow/engine/store"
)

// Signals a reservation workflow accepts (see package resv).
const (
	SignalCancel   = resv.SignalCancel
	SignalPreempt  = resv.SignalPreempt
	SignalWalltime = resv.SignalWalltime
)

// ReservationParams start a reservation workflow; its id is the reservation id.
type ReservationParams = resv.Params

// ReservationResult is the final state the workflow reached.
type ReservationResult struct {
	State  string
	Reason string
}

// Reservation drives one reservation through waiting → launching → running →
// terminated (or canceled, error): it waits durably for the start, launches the
// nodes, holds them until the walltime's durable timer fires, and always
// releases them, even when canceled.
func Reservation(ctx workflow.Context, p ReservationParams) (ReservationResult, error) {
	var a *activities.Activities
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second, MaximumAttempts: 10},
	})
	cancelCh := workflow.GetSignalChannel(ctx, SignalCancel)
	preemptCh := workflow.GetSignalChannel(ctx, SignalPreempt)
	walltimeCh := workflow.GetSignalChannel(ctx, SignalWalltime)
	end := p.End

	// wait returns why the wait until `until` ended: "timer", "cancel" or "preempt".
	// A walltime signal moves the deadline and keeps waiting.
	wait := func(until func() time.Time) string {
		for {
			tctx, stopTimer := workflow.WithCancel(ctx)
			timer := workflow.NewTimer(tctx, max(until().Sub(workflow.Now(ctx)), 0))
			why := ""
			sel := workflow.NewSelector(ctx)
			sel.AddFuture(timer, func(workflow.Future) { why = "timer" })
			sel.AddReceive(cancelCh, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil); why = "cancel" })
			sel.AddReceive(preemptCh, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil); why = "preempt" })
			sel.AddReceive(walltimeCh, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, &end) })
			sel.Select(ctx)
			stopTimer()
			if why != "" {
				return why
			}
		}
	}

	finish := func(state, reason string) (ReservationResult, error) {
		// Release even if the workflow itself is being canceled.
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		if err := workflow.ExecuteActivity(dctx, a.ReleaseReservation, p.ID).Get(dctx, nil); err != nil {
			workflow.GetLogger(ctx).Error("release failed", "reservation", p.ID, "error", err)
			state, reason = store.ResError, "release failed: "+err.Error()
		}
		if err := workflow.ExecuteActivity(dctx, a.SetReservationState, p.ID, state, reason).Get(dctx, nil); err != nil {
			return ReservationResult{}, err
		}
		return ReservationResult{State: state, Reason: reason}, nil
	}

	switch wait(func() time.Time { return p.Start }) {
	case "cancel":
		return finish(store.ResCanceled, "canceled before it started")
	case "preempt":
		return finish(store.ResTerminated, "preempted before it started")
	}

	if err := workflow.ExecuteActivity(ctx, a.SetReservationState, p.ID, store.ResLaunching, "").Get(ctx, nil); err != nil {
		return finish(store.ResError, "cannot record launch: "+err.Error())
	}
	if err := workflow.ExecuteActivity(ctx, a.LaunchReservation, p.ID).Get(ctx, nil); err != nil {
		return finish(store.ResError, "launch failed: "+err.Error())
	}
	if err := workflow.ExecuteActivity(ctx, a.SetReservationState, p.ID, store.ResRunning, "").Get(ctx, nil); err != nil {
		return finish(store.ResError, "cannot record start: "+err.Error())
	}

	switch wait(func() time.Time { return end }) {
	case "cancel":
		return finish(store.ResCanceled, "canceled by its owner")
	case "preempt":
		return finish(store.ResTerminated, "preempted: a higher-priority reservation needs the nodes")
	}
	return finish(store.ResTerminated, "walltime reached")
}
