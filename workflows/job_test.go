package workflows

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/gridflow/gridflow/activities"
	"github.com/gridflow/gridflow/engine/store"
)

// jobEnv scripts the job activities: runs[i] is how attempt i's run ends.
type jobEnv struct {
	env      *testsuite.TestWorkflowEnvironment
	reserves []int // attempts reserved
	changes  []activities.JobChange
	released []string
	killed   []string
}

func newJobEnv(t *testing.T, runs []activities.JobRunResult, maxResched int) *jobEnv {
	var s testsuite.WorkflowTestSuite
	je := &jobEnv{env: s.NewTestWorkflowEnvironment()}
	var a *activities.JobActivities
	je.env.OnActivity(a.JobReserve, mock.Anything, "j1", mock.Anything).Return(func(_ context.Context, _ string, attempt int) (activities.JobPlacement, error) {
		je.reserves = append(je.reserves, attempt)
		node := []string{"n-1", "n-2", "n-3", "n-4", "n-5"}[attempt%5]
		return activities.JobPlacement{Site: "s", Node: node, Reservation: "r-" + node, Walltime: time.Hour, MaxReschedules: maxResched}, nil
	})
	if runs != nil {
		je.env.OnActivity(a.JobRun, mock.Anything, "j1", mock.Anything, mock.Anything).Return(func(_ context.Context, _ string, attempt int, _ activities.JobPlacement) (activities.JobRunResult, error) {
			return runs[min(attempt, len(runs)-1)], nil
		})
	}
	je.env.OnActivity(a.JobCollect, mock.Anything, "j1", mock.Anything, mock.Anything).Return(activities.JobCollected{SHA256: strings.Repeat("a", 64)}, nil)
	je.env.OnActivity(a.JobEnd, mock.Anything, "j1", mock.Anything, mock.Anything).Return(func(_ context.Context, _, reservation string, c activities.JobChange) error {
		je.changes = append(je.changes, c)
		je.released = append(je.released, reservation)
		return nil
	})
	je.env.OnActivity(a.JobKillProcess, mock.Anything, mock.Anything, mock.Anything).Return(func(_ context.Context, node, pid string) error {
		je.killed = append(je.killed, node+"/"+pid)
		return nil
	})
	return je
}

func (je *jobEnv) run(t *testing.T) JobResult {
	t.Helper()
	je.env.ExecuteWorkflow(GridJob, JobParams{ID: "j1"})
	if !je.env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	var res JobResult
	if err := je.env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

func TestGridJobRunsToDone(t *testing.T) {
	je := newJobEnv(t, []activities.JobRunResult{{ExitCode: 0}}, 3)
	res := je.run(t)
	if res.State != store.JobDone || res.MinorStatus != "Execution Complete" || *res.ExitCode != 0 || res.Reschedules != 0 {
		t.Fatalf("result %+v", res)
	}
	// One reservation, released once with the final state.
	if len(je.reserves) != 1 || len(je.changes) != 1 || je.released[0] != "r-n-1" || je.changes[0].State != store.JobDone {
		t.Fatalf("reserves %v changes %+v released %v", je.reserves, je.changes, je.released)
	}
}

// A Done job whose manifest names OutputData registers it after its output
// sandbox; what could not be registered is in the reason, and the job is
// Done all the same. A failed job registers nothing.
func TestGridJobRegistersOutputData(t *testing.T) {
	for _, tc := range []struct {
		exit       int
		registered bool
	}{{0, true}, {3, false}} {
		var s testsuite.WorkflowTestSuite
		env := s.NewTestWorkflowEnvironment()
		var a *activities.JobActivities
		env.OnActivity(a.JobReserve, mock.Anything, "j1", 0).Return(activities.JobPlacement{Site: "s", Node: "n-1", Reservation: "r-1", Walltime: time.Hour}, nil)
		env.OnActivity(a.JobRun, mock.Anything, "j1", 0, mock.Anything).Return(activities.JobRunResult{ExitCode: tc.exit}, nil)
		env.OnActivity(a.JobCollect, mock.Anything, "j1", 0, mock.Anything).Return(activities.JobCollected{SHA256: strings.Repeat("a", 64), OutputData: true}, nil)
		registered := false
		env.OnActivity(a.JobRegisterOutputs, mock.Anything, "j1", 0, mock.Anything).Return(func(context.Context, string, int, activities.JobPlacement) (activities.JobRegistered, error) {
			registered = true
			return activities.JobRegistered{Registered: []string{"/u/jobs/j1/a.dat"}, Notes: []string{"output data b.dat not written by the job"}}, nil
		})
		env.OnActivity(a.JobEnd, mock.Anything, "j1", "r-1", mock.Anything).Return(nil)
		env.ExecuteWorkflow(GridJob, JobParams{ID: "j1"})
		var res JobResult
		if err := env.GetWorkflowResult(&res); err != nil {
			t.Fatal(err)
		}
		if registered != tc.registered {
			t.Fatalf("exit %d: registered = %v", tc.exit, registered)
		}
		if tc.registered && (res.State != store.JobDone || !strings.Contains(res.Reason, "b.dat not written")) {
			t.Fatalf("exit %d: result %+v", tc.exit, res)
		}
	}
}

func TestGridJobFailsOnExitCode(t *testing.T) {
	je := newJobEnv(t, []activities.JobRunResult{{ExitCode: 3}}, 3)
	res := je.run(t)
	if res.State != store.JobFailed || res.MinorStatus != "Application Finished With Errors" || res.Reason != "exit code 3" || *res.ExitCode != 3 {
		t.Fatalf("result %+v", res)
	}
}

func TestGridJobTimedOut(t *testing.T) {
	je := newJobEnv(t, []activities.JobRunResult{{ExitCode: -1, TimedOut: true, Reason: "ran past its CPUTime of 1h0m0s: killed"}}, 3)
	res := je.run(t)
	if res.State != store.JobFailed || !strings.HasPrefix(res.MinorStatus, "Watchdog") || !strings.Contains(res.Reason, "CPUTime") {
		t.Fatalf("result %+v", res)
	}
}

// A node that dies twice: the job moves to a third node and ends Done,
// each lost node's reservation released.
func TestGridJobReschedulesAfterLostNodes(t *testing.T) {
	lost := activities.JobRunResult{Lost: true, Reason: "node unreachable for 15s"}
	je := newJobEnv(t, []activities.JobRunResult{lost, lost, {ExitCode: 0}}, 3)
	res := je.run(t)
	if res.State != store.JobDone || res.Reschedules != 2 {
		t.Fatalf("result %+v", res)
	}
	if len(je.reserves) != 3 || je.reserves[2] != 2 {
		t.Fatalf("attempts %v", je.reserves)
	}
	if len(je.changes) != 3 || je.changes[0].State != store.JobWaiting || *je.changes[1].Reschedules != 2 || je.changes[1].Reason != lost.Reason ||
		je.released[0] != "r-n-1" || je.released[1] != "r-n-2" || je.released[2] != "r-n-3" {
		t.Fatalf("changes %+v released %v", je.changes, je.released)
	}
}

// A node that keeps dying: after MaxReschedules moves the job fails, with
// the reason of the last loss.
func TestGridJobFailsAfterBoundedReschedules(t *testing.T) {
	je := newJobEnv(t, []activities.JobRunResult{{Lost: true, Reason: "node n-x unreachable"}}, 3)
	res := je.run(t)
	if res.State != store.JobFailed || res.MinorStatus != "Node lost" || !strings.Contains(res.Reason, "rescheduled 3 times") ||
		!strings.Contains(res.Reason, "unreachable") || len(je.reserves) != 4 {
		t.Fatalf("result %+v after %d attempts", res, len(je.reserves))
	}
}

func TestGridJobNoMatchingSite(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.JobActivities
	env.OnActivity(a.JobReserve, mock.Anything, "j1", 0).Return(activities.JobPlacement{},
		temporal.NewNonRetryableApplicationError("no site can take the job now: s: never fits", "NoMatch", errors.New("never fits")))
	var ended activities.JobChange
	env.OnActivity(a.JobEnd, mock.Anything, "j1", "", mock.Anything).Return(func(_ context.Context, _, _ string, c activities.JobChange) error {
		ended = c
		return nil
	})
	env.ExecuteWorkflow(GridJob, JobParams{ID: "j1"})
	var res JobResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.State != store.JobFailed || ended.MinorStatus != "No matching site" || !strings.Contains(ended.Reason, "never fits") {
		t.Fatalf("result %+v, ended %+v", res, ended)
	}
}

// Killing (canceling the workflow) while the executable runs stops the
// process, releases the node and ends Killed.
func TestGridJobKilledWhileRunning(t *testing.T) {
	je := newJobEnv(t, nil, 3)
	var a *activities.JobActivities
	je.env.OnActivity(a.JobRun, mock.Anything, "j1", 0, mock.Anything).After(time.Hour).Return(activities.JobRunResult{}, nil)
	je.env.RegisterDelayedCallback(je.env.CancelWorkflow, time.Minute)
	res := je.run(t)
	if res.State != store.JobKilled || len(je.killed) != 1 || je.killed[0] != "n-1/j1-0" || je.released[0] != "r-n-1" {
		t.Fatalf("result %+v killed %v released %v", res, je.killed, je.released)
	}
}
