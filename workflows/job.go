package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/gridflow/gridflow/activities"
	"github.com/gridflow/gridflow/engine/jobs"
	"github.com/gridflow/gridflow/engine/store"
)

// JobParams start a job workflow; its id is the job id.
type JobParams = jobs.Params

// JobResult is how a job ended.
type JobResult struct {
	State, MinorStatus, Reason string
	ExitCode                   *int `json:",omitempty"`
	Reschedules                int
}

// RegisterJob adds the job workflow under the name the jobs service starts.
func RegisterJob(w worker.WorkflowRegistry) {
	w.RegisterWorkflowWithOptions(GridJob, workflow.RegisterOptions{Name: jobs.WorkflowName})
}

// GridJob drives one grid job: Received → Waiting (a site and a node that
// fit; the node reserved) → Matched → Running (input sandbox staged, the
// executable started and watched) → Completed (output sandbox collected) →
// Done, or Failed with a minor status and a reason. A node that stops
// answering while the job runs moves the job to another node, at most
// MaxReschedules times. Canceling the workflow kills the job: its process is
// stopped, its node released, and it ends Killed.
func GridJob(ctx workflow.Context, p JobParams) (JobResult, error) {
	var a *activities.JobActivities
	short := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second, MaximumAttempts: 10},
	})
	// Matching waits as long as the node's reservation waits for its start.
	long := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * 24 * time.Hour,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second, MaximumAttempts: 10},
	})
	res := JobResult{}
	reservation, node, pid := "", "", ""

	end := func(state, minor, reason string, exit *int) (JobResult, error) {
		// Release and record even when the workflow is being canceled.
		dctx, _ := workflow.NewDisconnectedContext(short)
		if state == store.JobKilled && node != "" {
			_ = workflow.ExecuteActivity(dctx, a.JobKillProcess, node, pid).Get(dctx, nil)
		}
		n := res.Reschedules
		err := workflow.ExecuteActivity(dctx, a.JobEnd, p.ID, reservation, activities.JobChange{State: state, MinorStatus: minor, Reason: reason,
			ExitCode: exit, Reschedules: &n}).Get(dctx, nil)
		res.State, res.MinorStatus, res.Reason, res.ExitCode = state, minor, reason, exit
		return res, err
	}
	canceled := func(err error) bool {
		var ce *temporal.CanceledError
		return errors.As(err, &ce) || ctx.Err() != nil
	}
	killed := func() (JobResult, error) { return end(store.JobKilled, "Marked for termination", "", nil) }

	for attempt := 0; ; attempt++ {
		if ctx.Err() != nil {
			return killed()
		}
		var pl activities.JobPlacement
		err := workflow.ExecuteActivity(long, a.JobReserve, p.ID, attempt).Get(ctx, &pl)
		if pl.Reservation != "" {
			reservation = pl.Reservation
		}
		switch {
		case canceled(err):
			return killed()
		case err != nil:
			return end(store.JobFailed, "No matching site", errorMessage(err), nil)
		}
		node, pid = pl.Node, jobs.ProcessID(p.ID, attempt)
		reason := pl.Reason
		if !pl.Lost {
			runCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
				StartToCloseTimeout: jobs.Deadline(jobs.Manifest{CPUTime: int(pl.Walltime / time.Second)}),
				HeartbeatTimeout:    time.Minute,
				RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second, MaximumAttempts: 5},
			})
			var run activities.JobRunResult
			err = workflow.ExecuteActivity(runCtx, a.JobRun, p.ID, attempt, pl).Get(ctx, &run)
			switch {
			case canceled(err):
				return killed()
			case err != nil:
				return end(store.JobFailed, "Application could not run", errorMessage(err), nil)
			case run.StartFailed != "":
				return end(store.JobFailed, "Application could not start", run.StartFailed, nil)
			}
			if !run.Lost {
				return collect(ctx, short, a, p.ID, attempt, pl, run, end, killed, canceled)
			}
			reason = run.Reason
		}
		// The node is gone: release it and try another one, a bounded
		// number of times.
		if attempt >= pl.MaxReschedules {
			return end(store.JobFailed, "Node lost", fmt.Sprintf("rescheduled %d times, then %s", attempt, reason), nil)
		}
		res.Reschedules = attempt + 1
		n := res.Reschedules
		if err := workflow.ExecuteActivity(short, a.JobEnd, p.ID, reservation, activities.JobChange{State: store.JobWaiting,
			MinorStatus: fmt.Sprintf("Rescheduled (%d of at most %d)", n, pl.MaxReschedules), Reason: reason, Reschedules: &n}).Get(ctx, nil); err != nil {
			if canceled(err) {
				return killed()
			}
			return end(store.JobFailed, "Cannot reschedule", errorMessage(err), nil)
		}
		reservation, node = "", ""
	}
}

// outputDataChange versions the registration of a Done job's OutputData in
// the file catalogue after its output sandbox.
const outputDataChange = "job-output-data"

// collect brings the output sandbox back and ends the job after its run.
func collect(ctx, short workflow.Context, a *activities.JobActivities, id string, attempt int, pl activities.JobPlacement, run activities.JobRunResult,
	end func(state, minor, reason string, exit *int) (JobResult, error), killed func() (JobResult, error), canceled func(error) bool) (JobResult, error) {
	var col activities.JobCollected
	err := workflow.ExecuteActivity(short, a.JobCollect, id, attempt, pl).Get(ctx, &col)
	exit := run.ExitCode
	switch {
	case canceled(err):
		return killed()
	case err != nil:
		return end(store.JobFailed, "Uploading Output Sandbox failed", errorMessage(err), &exit)
	}
	var notes []string
	if len(col.Missing) > 0 {
		notes = append(notes, fmt.Sprintf("output files not written by the job: %v", col.Missing))
	}
	if len(col.Skipped) > 0 {
		notes = append(notes, fmt.Sprintf("output files left out, over the sandbox limit: %v", col.Skipped))
	}
	if col.Truncated {
		notes = append(notes, "stdout or stderr truncated to their last bytes")
	}
	// A Done job's OutputData goes to the file catalogue; older histories
	// never registered any.
	if v := workflow.GetVersion(ctx, outputDataChange, workflow.DefaultVersion, 1); v >= 1 && col.OutputData && !run.TimedOut && exit == 0 {
		var reg activities.JobRegistered
		err := workflow.ExecuteActivity(short, a.JobRegisterOutputs, id, attempt, pl).Get(ctx, &reg)
		switch {
		case canceled(err):
			return killed()
		case err != nil:
			notes = append(notes, "output data not registered: "+errorMessage(err))
		}
		notes = append(notes, reg.Notes...)
	}
	note := ""
	for i, n := range notes {
		if i > 0 {
			note += "; "
		}
		note += n
	}
	switch {
	case run.TimedOut:
		return end(store.JobFailed, "Watchdog: CPUTime exceeded", joinNote(run.Reason, note), &exit)
	case exit != 0:
		why := fmt.Sprintf("exit code %d", exit)
		if run.Signal != "" {
			why = "ended by " + run.Signal
		}
		return end(store.JobFailed, "Application Finished With Errors", joinNote(why, note), &exit)
	}
	return end(store.JobDone, "Execution Complete", note, &exit)
}

func joinNote(a, b string) string {
	if b == "" {
		return a
	}
	return a + "; " + b
}

// errorMessage is an activity error's own message, without the SDK's
// wrapping ("activity error (type: …)").
func errorMessage(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Error()
	}
	return err.Error()
}
