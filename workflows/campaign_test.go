package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/gridflow/gridflow/activities"
	"github.com/gridflow/gridflow/engine/store"
)

// campaignEnv mocks the campaign activities over a graph; runs decides each
// run instance's exit code by address and attempt.
type campaignEnv struct {
	env      *testsuite.TestWorkflowEnvironment
	mu       sync.Mutex
	started  []string // instance addresses, in start order
	released int
	final    string
	steps    map[string]string
}

func newCampaignEnv(t *testing.T, graph activities.CampaignGraph, exit func(addr string, attempt int) int) *campaignEnv {
	var s testsuite.WorkflowTestSuite
	ce := &campaignEnv{env: s.NewTestWorkflowEnvironment(), steps: map[string]string{}}
	var a *activities.Activities
	env := ce.env
	if beforeFolding {
		env.OnGetVersion(foldStepsChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	}
	env.OnActivity(a.CampaignGraphOf, mock.Anything, "c1").Return(graph, nil)
	env.OnActivity(a.SetCampaignState, mock.Anything, "c1", mock.Anything, mock.Anything, mock.Anything).Return(
		func(_ context.Context, _, state, _ string, _ json.RawMessage) error { ce.final = state; return nil })
	env.OnActivity(a.SetStepState, mock.Anything, "c1", mock.Anything, mock.Anything, mock.Anything, mock.Anything, mock.Anything).Return(
		func(_ context.Context, _, addr, state string, _ int, _ string, _ []activities.InstanceOutput) error {
			ce.mu.Lock()
			ce.steps[addr] = state
			ce.mu.Unlock()
			return nil
		})
	kinds := map[string]string{}
	for _, st := range graph.Steps {
		kinds[st.Address] = st.Kind
	}
	env.OnActivity(a.ExpandStep, mock.Anything, "c1", mock.Anything, mock.Anything, mock.Anything).Return(
		func(_ context.Context, _, addr string, _ int, outs map[string][]activities.InstanceOutput) ([]activities.StepInstance, error) {
			in := activities.StepInstance{Address: addr, Kind: kinds[addr]}
			if kinds[addr] == "reservation" {
				in.Reservation = &activities.ReserveAction{Site: "s"}
			} else {
				in.Run = &activities.RunAction{Nodes: []string{"n1"}, Command: "x"}
			}
			return []activities.StepInstance{in}, nil
		})
	env.OnActivity(a.Reserve, mock.Anything, "c1", mock.Anything, mock.Anything).Return(
		func(_ context.Context, _, addr string, _ activities.ReserveAction) (json.RawMessage, error) {
			ce.mu.Lock()
			ce.started = append(ce.started, addr)
			ce.mu.Unlock()
			return json.RawMessage(`{"id":"r1","site":"s","nodes":["n1"]}`), nil
		})
	env.OnActivity(a.RunCommand, mock.Anything, "c1", mock.Anything, mock.Anything, mock.Anything).Return(
		func(_ context.Context, _, addr string, attempt int, _ activities.RunAction) (activities.RunOutcome, error) {
			ce.mu.Lock()
			ce.started = append(ce.started, addr)
			ce.mu.Unlock()
			code := exit(addr, attempt)
			b, _ := json.Marshal(map[string]any{"exit_code": code, "stdout": "", "stderr": "", "results": map[string]any{}})
			return activities.RunOutcome{Output: b, ExitCode: code}, nil
		})
	// The one-activity-per-attempt path does what the three mocks above do.
	env.OnActivity(a.RunStepAttempt, mock.Anything, "c1", mock.Anything, mock.Anything).Return(
		func(_ context.Context, _ string, st activities.GraphStep, attempt int) (activities.StepAttempt, error) {
			if beforeFolding {
				t.Errorf("%s ran through RunStepAttempt in a workflow from before it", st.Address)
			}
			ce.mu.Lock()
			defer ce.mu.Unlock()
			ce.started = append(ce.started, st.Address)
			out := json.RawMessage(`{"id":"r1","site":"s","nodes":["n1"]}`)
			code := 0
			if kinds[st.Address] != "reservation" {
				code = exit(st.Address, attempt)
				out, _ = json.Marshal(map[string]any{"exit_code": code, "stdout": "", "stderr": "", "results": map[string]any{}})
			}
			res := activities.StepAttempt{Outputs: []activities.InstanceOutput{{Address: st.Address, Output: out}}}
			switch {
			case code == 0:
				ce.steps[st.Address] = store.StepSucceeded
			case attempt < st.Attempts:
				ce.steps[st.Address], res.Err = store.StepRunning, "exit code"
			default:
				ce.steps[st.Address], res.Err = store.StepFailed, "exit code"
			}
			return res, nil
		})
	env.OnActivity(a.CampaignOutputs, mock.Anything, "c1", mock.Anything).Return(json.RawMessage(`{}`), nil)
	env.OnActivity(a.ReleaseCampaign, mock.Anything, "c1").Return(func(context.Context, string) (int, error) { ce.released++; return 1, nil })
	return ce
}

// beforeFolding runs the campaign tests on the path of workflows started
// before one activity ran each step attempt (their histories replay it).
var beforeFolding bool

func TestCampaignBeforeFoldingSteps(t *testing.T) {
	beforeFolding = true
	defer func() { beforeFolding = false }()
	t.Run("order", TestCampaignRunsStepsInDependencyOrder)
	t.Run("retry", TestCampaignRetriesWithBackoffThenAborts)
	t.Run("continue", TestCampaignContinueLetsDependentsRun)
}

func graph(steps ...activities.GraphStep) activities.CampaignGraph {
	for i := range steps {
		if steps[i].Attempts == 0 {
			steps[i].Attempts = 1
		}
	}
	return activities.CampaignGraph{Steps: steps}
}

func TestCampaignRunsStepsInDependencyOrder(t *testing.T) {
	ce := newCampaignEnv(t, graph(
		activities.GraphStep{Address: "reservation.r", Kind: "reservation"},
		activities.GraphStep{Address: "run.a", Kind: "run", DependsOn: []string{"reservation.r"}},
		activities.GraphStep{Address: "run.b", Kind: "run", DependsOn: []string{"run.a"}},
	), func(string, int) int { return 0 })
	ce.env.ExecuteWorkflow(Campaign, CampaignParams{ID: "c1"})
	if err := ce.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if got := ce.started; len(got) != 3 || got[0] != "reservation.r" || got[1] != "run.a" || got[2] != "run.b" {
		t.Fatalf("order %v", got)
	}
	if ce.final != store.CampaignSucceeded || ce.released != 1 {
		t.Fatalf("final %s, released %d", ce.final, ce.released)
	}
}

func TestCampaignRetriesWithBackoffThenAborts(t *testing.T) {
	ce := newCampaignEnv(t, graph(
		activities.GraphStep{Address: "run.flaky", Kind: "run", Attempts: 3, Backoff: time.Minute},
		activities.GraphStep{Address: "run.next", Kind: "run", DependsOn: []string{"run.flaky"}},
	), func(addr string, attempt int) int {
		if addr == "run.flaky" {
			return 1
		}
		return 0
	})
	start := ce.env.Now()
	ce.env.ExecuteWorkflow(Campaign, CampaignParams{ID: "c1"})
	if ce.final != store.CampaignFailed || ce.steps["run.next"] != store.StepSkipped || ce.steps["run.flaky"] != store.StepFailed {
		t.Fatalf("final %s steps %v", ce.final, ce.steps)
	}
	if n := len(ce.started); n != 3 {
		t.Fatalf("run.flaky ran %d times, want 3", n)
	}
	// Backoff 1m then 2m: at least 3 minutes of durable sleep.
	if ce.env.Now().Sub(start) < 3*time.Minute {
		t.Fatalf("retries waited %s, want the doubling backoff (>= 3m)", ce.env.Now().Sub(start))
	}
	if ce.released != 1 {
		t.Fatal("a failed campaign did not release its reservations")
	}
}

func TestCampaignContinueLetsDependentsRun(t *testing.T) {
	ce := newCampaignEnv(t, graph(
		activities.GraphStep{Address: "run.optional", Kind: "run", Continue: true},
		activities.GraphStep{Address: "run.after", Kind: "run", DependsOn: []string{"run.optional"}},
	), func(addr string, _ int) int {
		if addr == "run.optional" {
			return 2
		}
		return 0
	})
	ce.env.ExecuteWorkflow(Campaign, CampaignParams{ID: "c1"})
	if ce.final != store.CampaignSucceeded || ce.steps["run.after"] != store.StepSucceeded || ce.steps["run.optional"] != store.StepFailed {
		t.Fatalf("final %s steps %v", ce.final, ce.steps)
	}
}

func TestCampaignCompileFailureFailsWithoutSteps(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Activities
	env.OnActivity(a.CampaignGraphOf, mock.Anything, "c1").Return(activities.CampaignGraph{},
		temporal.NewNonRetryableApplicationError("no longer loads", "Invalid", errors.New("bad")))
	final := ""
	env.OnActivity(a.ReleaseCampaign, mock.Anything, "c1").Return(0, nil)
	env.OnActivity(a.SetCampaignState, mock.Anything, "c1", mock.Anything, mock.Anything, mock.Anything).Return(
		func(_ context.Context, _, state, _ string, _ json.RawMessage) error { final = state; return nil })
	env.ExecuteWorkflow(Campaign, CampaignParams{ID: "c1"})
	if final != store.CampaignFailed {
		t.Fatalf("final %q", final)
	}
}
