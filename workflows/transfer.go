package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/gridflow/gridflow/activities"
	"github.com/gridflow/gridflow/engine/transfer"
)

// TransferParams start a transfer job workflow; its id is the job id.
type TransferParams = transfer.Params

// TransferResult is the final state of a job.
type TransferResult struct {
	State string
}

// RegisterTransfer adds the transfer job workflow under the name the
// transfer service starts it by.
func RegisterTransfer(w worker.WorkflowRegistry) {
	w.RegisterWorkflowWithOptions(TransferJob, workflow.RegisterOptions{Name: transfer.WorkflowName})
}

// transferHistoryLimit is the history length after which a job continues
// as new: a job held for days by a WAIT ban loops every few seconds.
const transferHistoryLimit = 2000

// TransferJob runs one transfer job. The files are copied by runs of the
// RunTransferFiles activity — per-file work in one activity, in parallel
// under the pairs' limits, so that a job of ten thousand files makes a
// history of a few events. Between runs that found only held files the
// workflow waits, longer each time. Canceling the workflow stops the copies
// (they remove their temporary files) and the job ends CANCELED.
func TransferJob(ctx workflow.Context, p TransferParams) (TransferResult, error) {
	var a *activities.Activities
	storeCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second},
	})
	runCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 15 * time.Minute, // a run hands back after 5 minutes
		HeartbeatTimeout:    30 * time.Second,
		WaitForCancellation: true, // the copies clean up before the job ends
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute,
			NonRetryableErrorTypes: []string{"NotFound"}},
	})
	finish := func() (TransferResult, error) {
		// Record the end even when the workflow itself is canceled.
		dctx, _ := workflow.NewDisconnectedContext(storeCtx)
		var state string
		err := workflow.ExecuteActivity(dctx, a.FinishTransferJob, p.ID, ctx.Err() != nil).Get(dctx, &state)
		return TransferResult{State: state}, err
	}
	wait := time.Second
	for {
		var run activities.TransferRun
		err := workflow.ExecuteActivity(runCtx, a.RunTransferFiles, p.ID).Get(runCtx, &run)
		if ctx.Err() != nil {
			return finish()
		}
		if err != nil {
			return TransferResult{}, err
		}
		if run.Done {
			return finish()
		}
		if run.Queued == 0 {
			// Only held files: wait for the unban.
			if err := workflow.Sleep(ctx, wait); err != nil {
				return finish()
			}
			wait = min(2*wait, 30*time.Second)
		} else {
			wait = time.Second
		}
		if workflow.GetInfo(ctx).GetCurrentHistoryLength() > transferHistoryLimit {
			return TransferResult{}, workflow.NewContinueAsNewError(ctx, transfer.WorkflowName, p)
		}
	}
}
