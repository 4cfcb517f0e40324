package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"github.com/gridflow/gridflow/activities"
	"github.com/gridflow/gridflow/engine/store"
)

// transferEnv plays scripted runs of RunTransferFiles and records how the
// job was finished.
func transferEnv(t *testing.T, runs []activities.TransferRun) (*testsuite.TestWorkflowEnvironment, *int, *[]bool) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Activities
	calls := 0
	var finishes []bool
	env.OnActivity(a.RunTransferFiles, mock.Anything, "j1").Return(func(ctx context.Context, _ string) (activities.TransferRun, error) {
		r := runs[min(calls, len(runs)-1)]
		calls++
		return r, nil
	})
	env.OnActivity(a.FinishTransferJob, mock.Anything, "j1", mock.Anything).Return(func(_ context.Context, _ string, canceled bool) (string, error) {
		finishes = append(finishes, canceled)
		if canceled {
			return store.TransferCanceled, nil
		}
		return store.TransferFinished, nil
	})
	return env, &calls, &finishes
}

func TestTransferJobRunsUntilDone(t *testing.T) {
	env, calls, finishes := transferEnv(t, []activities.TransferRun{{Queued: 10, Finished: 5}, {Done: true, Finished: 10}})
	env.ExecuteWorkflow(TransferJob, TransferParams{ID: "j1"})
	var res TransferResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.State != store.TransferFinished || *calls != 2 || len(*finishes) != 1 || (*finishes)[0] {
		t.Fatalf("result %+v after %d runs, finishes %v", res, *calls, *finishes)
	}
}

// A job whose files a WAIT ban holds waits between runs, longer each time
// (1, 2, 4, 8, 16, then 30 s), until it is canceled.
func TestTransferJobWaitsForHeldFiles(t *testing.T) {
	env, calls, finishes := transferEnv(t, []activities.TransferRun{{Held: 3}})
	env.RegisterDelayedCallback(env.CancelWorkflow, 3*time.Minute)
	env.ExecuteWorkflow(TransferJob, TransferParams{ID: "j1"})
	var res TransferResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	// 31 s for the first five waits, then one run every 30 s.
	if want := 6 + (180-31)/30; *calls != want || res.State != store.TransferCanceled || len(*finishes) != 1 {
		t.Fatalf("%d runs (want %d), result %+v", *calls, want, res)
	}
}

func TestTransferJobCanceled(t *testing.T) {
	env, _, finishes := transferEnv(t, []activities.TransferRun{{Held: 1}})
	env.RegisterDelayedCallback(env.CancelWorkflow, 10*time.Second)
	env.ExecuteWorkflow(TransferJob, TransferParams{ID: "j1"})
	var res TransferResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.State != store.TransferCanceled || len(*finishes) != 1 || !(*finishes)[0] {
		t.Fatalf("result %+v, finishes %v", res, *finishes)
	}
}
