package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/gridflow/gridflow/activities"
	"github.com/gridflow/gridflow/engine/store"
)

// CampaignParams start a campaign workflow; its id is the campaign id.
type CampaignParams struct {
	ID string
}

// CampaignResult is where the campaign ended.
type CampaignResult struct {
	State  string
	Reason string
}

// foldStepsChange versions the change from three commands per step (a local
// activity to expand, an activity per instance, a local activity to record)
// to one activity per attempt (RunStepAttempt).
const foldStepsChange = "campaign-one-activity-per-step"

// defaultStepTimeout bounds an attempt of a step without a timeout argument.
const defaultStepTimeout = 24 * time.Hour

// stepDone is what a finished step reports to the main loop.
type stepDone struct {
	address string
	outputs []activities.InstanceOutput
	err     error
}

// Campaign runs a compiled campaign: each step once its dependencies are
// done, instances of a step in parallel, with the step's retry policy; the
// first failure of an "abort" step stops the rest. Whatever the outcome, the
// reservations the campaign made are released at the end (compensation).
func Campaign(ctx workflow.Context, p CampaignParams) (CampaignResult, error) {
	var a *activities.Activities
	short := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second, MaximumAttempts: 20},
	})
	var graph activities.CampaignGraph
	if err := workflow.ExecuteActivity(short, a.CampaignGraphOf, p.ID).Get(short, &graph); err != nil {
		return finishCampaign(ctx, p.ID, store.CampaignFailed, "cannot compile: "+err.Error(), nil)
	}
	if err := workflow.ExecuteActivity(short, a.SetCampaignState, p.ID, store.CampaignRunning, "", json.RawMessage(nil)).Get(short, nil); err != nil {
		return CampaignResult{}, err
	}

	runCtx, cancelRun := workflow.WithCancel(ctx)
	outputs := map[string][]activities.InstanceOutput{}
	state := map[string]string{}
	for _, s := range graph.Steps {
		state[s.Address] = store.StepPending
	}
	results := workflow.NewChannel(ctx)
	running := 0
	failure := ""

	// ready: every dependency succeeded, or failed on a "continue" step.
	continues := map[string]bool{}
	for _, s := range graph.Steps {
		continues[s.Address] = s.Continue
	}
	ready := func(s activities.GraphStep) bool {
		for _, d := range s.DependsOn {
			switch state[d] {
			case store.StepSucceeded:
			case store.StepFailed:
				if !continues[d] {
					return false
				}
			default:
				return false
			}
		}
		return true
	}

	for {
		if failure == "" {
			for _, s := range graph.Steps { // graph order: deterministic
				if state[s.Address] != store.StepPending || !ready(s) {
					continue
				}
				state[s.Address] = store.StepRunning
				running++
				snapshot := copyOutputs(outputs)
				workflow.Go(runCtx, func(gctx workflow.Context) {
					outs, err := runStep(gctx, p.ID, s, snapshot)
					results.Send(gctx, stepDone{address: s.Address, outputs: outs, err: err})
				})
			}
		}
		if running == 0 {
			break
		}
		var done stepDone
		results.Receive(ctx, &done)
		running--
		if done.err != nil {
			state[done.address] = store.StepFailed
			if complete(done.outputs) {
				// A failed command still has outputs (its exit code) that
				// the steps after a "continue" step may read.
				outputs[done.address] = done.outputs
			}
			if !continues[done.address] && failure == "" {
				failure = fmt.Sprintf("step %s failed: %v", done.address, done.err)
				cancelRun() // the other running steps stop; the loop drains them
			}
			continue
		}
		state[done.address] = store.StepSucceeded
		outputs[done.address] = done.outputs
	}

	// Steps that never ran are skipped (or canceled, when the campaign was).
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	dshort := workflow.WithActivityOptions(dctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second, MaximumAttempts: 20},
	})
	canceled := ctx.Err() != nil
	for _, s := range graph.Steps {
		if state[s.Address] == store.StepPending {
			st := store.StepSkipped
			if canceled {
				st = store.StepCanceled
			}
			_ = workflow.ExecuteActivity(dshort, a.SetStepState, p.ID, s.Address, st, 0, "", []activities.InstanceOutput(nil)).Get(dshort, nil)
		}
	}
	switch {
	case canceled:
		return finishCampaign(ctx, p.ID, store.CampaignCanceled, "canceled by its owner", nil)
	case failure != "":
		return finishCampaign(ctx, p.ID, store.CampaignFailed, failure, nil)
	}
	var outs json.RawMessage
	if err := workflow.ExecuteActivity(dshort, a.CampaignOutputs, p.ID, outputs).Get(dshort, &outs); err != nil {
		return finishCampaign(ctx, p.ID, store.CampaignFailed, "cannot compute outputs: "+err.Error(), nil)
	}
	return finishCampaign(ctx, p.ID, store.CampaignSucceeded, "", outs)
}

// finishCampaign releases what the campaign holds and records its end, even
// when the workflow is being canceled.
func finishCampaign(ctx workflow.Context, id, state, reason string, outputs json.RawMessage) (CampaignResult, error) {
	var a *activities.Activities
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	dctx = workflow.WithActivityOptions(dctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second, MaximumAttempts: 20},
	})
	if err := workflow.ExecuteActivity(dctx, a.ReleaseCampaign, id).Get(dctx, nil); err != nil {
		reason += "; releasing its reservations failed: " + err.Error()
	}
	if err := workflow.ExecuteActivity(dctx, a.SetCampaignState, id, state, reason, outputs).Get(dctx, nil); err != nil {
		return CampaignResult{}, err
	}
	return CampaignResult{State: state, Reason: reason}, nil
}

// complete reports whether every instance recorded an output.
func complete(outs []activities.InstanceOutput) bool {
	for _, o := range outs {
		if len(o.Output) == 0 {
			return false
		}
	}
	return len(outs) > 0
}

// local runs the quick store updates and the step expansion as local
// activities: they need no task-queue round trip, and their results are still
// recorded in history.
func local(ctx workflow.Context) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second, MaximumAttempts: 20},
	})
}

// copyOutputs gives a step goroutine its own view of the outputs so far.
func copyOutputs(m map[string][]activities.InstanceOutput) map[string][]activities.InstanceOutput {
	return maps.Clone(m)
}

// runStep runs one step with its retry policy and records its progress.
func runStep(ctx workflow.Context, id string, s activities.GraphStep, outputs map[string][]activities.InstanceOutput) ([]activities.InstanceOutput, error) {
	var a *activities.Activities
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = defaultStepTimeout
	}
	work := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: timeout,
		HeartbeatTimeout:    15 * time.Second, // a crashed worker's attempt is retried soon
		// Transient faults (an agent restarting) are retried briefly; a node
		// that stays away fails the attempt within about half a minute.
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 10 * time.Second, MaximumAttempts: 5},
	})
	backoff := s.Backoff
	var lastErr error
	var lastOuts []activities.InstanceOutput
	for attempt := 1; attempt <= s.Attempts; attempt++ {
		if attempt > 1 {
			if err := workflow.Sleep(ctx, backoff); err != nil {
				break
			}
			backoff *= 2
		}
		if workflow.GetVersion(ctx, foldStepsChange, workflow.DefaultVersion, 1) == 1 {
			// One activity runs and records the whole attempt.
			var r activities.StepAttempt
			err := workflow.ExecuteActivity(work, a.RunStepAttempt, id, s, attempt).Get(ctx, &r)
			if err == nil && r.Err == "" {
				return r.Outputs, nil
			}
			lastOuts = r.Outputs
			if err == nil {
				lastErr = errors.New(r.Err) // recorded by the activity
				continue
			}
			lastErr = err
			if ctx.Err() != nil {
				break
			}
			_ = workflow.ExecuteLocalActivity(local(ctx), a.SetStepState, id, s.Address, store.StepRunning, attempt, err.Error(), r.Outputs).Get(ctx, nil)
			continue
		}
		outs, err := runAttempt(ctx, work, id, s, attempt, outputs)
		if err == nil {
			_ = workflow.ExecuteLocalActivity(local(ctx), a.SetStepState, id, s.Address, store.StepSucceeded, attempt, "", outs).Get(ctx, nil)
			return outs, nil
		}
		lastErr, lastOuts = err, outs
		if ctx.Err() != nil {
			break
		}
		_ = workflow.ExecuteLocalActivity(local(ctx), a.SetStepState, id, s.Address, store.StepRunning, attempt, err.Error(), outs).Get(ctx, nil)
	}
	final := store.StepFailed
	msg := ""
	if lastErr != nil {
		msg = lastErr.Error()
	}
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	dctx = workflow.WithActivityOptions(dctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	if ctx.Err() != nil {
		final = store.StepCanceled
	}
	_ = workflow.ExecuteActivity(dctx, a.SetStepState, id, s.Address, final, s.Attempts, msg, []activities.InstanceOutput(nil)).Get(dctx, nil)
	if lastErr == nil {
		lastErr = fmt.Errorf("canceled")
	}
	return lastOuts, lastErr
}

// runAttempt expands the step and runs its instances in parallel.
func runAttempt(ctx, work workflow.Context, id string, s activities.GraphStep, attempt int, outputs map[string][]activities.InstanceOutput) ([]activities.InstanceOutput, error) {
	var a *activities.Activities
	var insts []activities.StepInstance
	if err := workflow.ExecuteLocalActivity(local(ctx), a.ExpandStep, id, s.Address, attempt, outputs).Get(ctx, &insts); err != nil {
		return nil, err
	}
	futures := make([]workflow.Future, len(insts))
	isRun := make([]bool, len(insts))
	for i, in := range insts {
		switch {
		case in.Reservation != nil:
			futures[i] = workflow.ExecuteActivity(work, a.Reserve, id, in.Address, *in.Reservation)
		case in.Run != nil:
			futures[i] = workflow.ExecuteActivity(work, a.RunCommand, id, in.Address, attempt, *in.Run)
			isRun[i] = true
		case in.Deployment != nil:
			futures[i] = workflow.ExecuteActivity(work, a.Deploy, id, in.Address, *in.Deployment)
		case in.Transfer != nil:
			// A new kind of instance: histories of older campaigns never
			// reach this branch, so they replay unchanged.
			futures[i] = workflow.ExecuteActivity(work, a.Transfer, id, in.Address, *in.Transfer)
		case in.Container != nil:
			futures[i] = workflow.ExecuteActivity(work, a.StartContainer, id, in.Address, *in.Container)
		default:
			return nil, fmt.Errorf("%s: nothing to run", in.Address)
		}
	}
	outs := make([]activities.InstanceOutput, len(insts))
	var firstErr error
	for i, f := range futures {
		var raw json.RawMessage
		var err error
		if isRun[i] {
			var r activities.RunOutcome
			err = f.Get(ctx, &r)
			raw = r.Output
			if err == nil && r.ExitCode != 0 && firstErr == nil {
				firstErr = fmt.Errorf("%s: exit code %d", insts[i].Address, r.ExitCode)
			}
		} else {
			err = f.Get(ctx, &raw)
		}
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("%s: %w", insts[i].Address, err)
			}
			continue
		}
		outs[i] = activities.InstanceOutput{Address: insts[i].Address, Output: raw}
	}
	return outs, firstErr
}
