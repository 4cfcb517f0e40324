package workflows

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/gridflow/gridflow/activities"
	"github.com/gridflow/gridflow/engine/deploy"
	"github.com/gridflow/gridflow/engine/hw"
	"github.com/gridflow/gridflow/engine/store"
)

// deploymentEnv mocks the store activities and records the states set.
type deploymentEnv struct {
	*testsuite.TestWorkflowEnvironment
	mu        sync.Mutex
	states    []string
	reasons   []string
	recorded  []activities.NodeResult
	finished  []string
	deployed  []string
	inflight  int
	maxFlight int
	// recordErr, when set, is what RecordNodeResult fails with.
	recordErr error
}

func newDeploymentEnv(t *testing.T) *deploymentEnv {
	var s testsuite.WorkflowTestSuite
	e := &deploymentEnv{TestWorkflowEnvironment: s.NewTestWorkflowEnvironment()}
	var a *activities.Activities
	e.OnActivity(a.SetDeploymentState, mock.Anything, "d1", mock.Anything, mock.Anything).Return(
		func(_ context.Context, _ string, state, reason string) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.states, e.reasons = append(e.states, state), append(e.reasons, reason)
			return nil
		})
	e.OnActivity(a.RecordNodeResult, mock.Anything, "d1", mock.Anything, mock.Anything).Return(
		func(_ context.Context, _ string, _ int, r activities.NodeResult) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			if e.recordErr != nil {
				return e.recordErr
			}
			e.recorded = append(e.recorded, r)
			return nil
		})
	e.OnActivity(a.FinishUnfinishedNodes, mock.Anything, "d1", mock.Anything, mock.Anything).Return(
		func(_ context.Context, _ string, _ int, reason string) (int, error) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.finished = append(e.finished, reason)
			return 1, nil
		})
	return e
}

// onDeploy mocks DeployNode with fn, counting the nodes deployed at once.
func (e *deploymentEnv) onDeploy(fn func(p activities.DeployNodeParams) (activities.NodeResult, error)) {
	var a *activities.Activities
	e.OnActivity(a.DeployNode, mock.Anything, mock.Anything).Return(
		func(_ context.Context, p activities.DeployNodeParams) (activities.NodeResult, error) {
			e.mu.Lock()
			e.inflight++
			e.maxFlight = max(e.maxFlight, e.inflight)
			e.deployed = append(e.deployed, p.Node)
			e.mu.Unlock()
			defer func() { e.mu.Lock(); e.inflight--; e.mu.Unlock() }()
			return fn(p)
		})
}

func (e *deploymentEnv) result(t *testing.T) DeploymentResult {
	t.Helper()
	if !e.IsWorkflowCompleted() || e.GetWorkflowError() != nil {
		t.Fatalf("workflow did not complete: %v", e.GetWorkflowError())
	}
	var r DeploymentResult
	if err := e.GetWorkflowResult(&r); err != nil {
		t.Fatal(err)
	}
	return r
}

func params(nodes ...string) DeploymentParams {
	return DeploymentParams{ID: "d1", Run: 1, Reservation: "r1", Nodes: nodes,
		Env:     hw.EnvSpec{Name: "debian12-min@2024.1", Checksum: "sha256:00"},
		Options: deploy.Options{Retries: 1, Parallel: 2}}
}

func TestDeploymentAllOK(t *testing.T) {
	e := newDeploymentEnv(t)
	e.onDeploy(func(p activities.DeployNodeParams) (activities.NodeResult, error) {
		if p.Deployment != "d1" || p.Run != 1 || p.Reservation != "r1" || p.Retries != 1 || p.Timeouts.Write != deploy.DefaultTimeouts.Write {
			return activities.NodeResult{}, errors.New("bad params")
		}
		return activities.NodeResult{Node: p.Node, State: store.NodeOK, Step: store.StepCheck}, nil
	})
	nodes := []string{"n1", "n2", "n3", "n4", "n5"}
	e.ExecuteWorkflow(Deployment, params(nodes...))
	r := e.result(t)
	if r.State != store.DeployTerminated || !slices.Equal(r.OK, nodes) || len(r.KO) != 0 {
		t.Fatalf("result %+v", r)
	}
	if !slices.Equal(e.states, []string{store.DeployProcessing, store.DeployTerminated}) || e.reasons[1] != "run 1: 5 of 5 nodes OK" {
		t.Fatalf("states %v %q", e.states, e.reasons)
	}
	slices.Sort(e.deployed)
	if !slices.Equal(e.deployed, nodes) || e.maxFlight > 2 {
		t.Fatalf("deployed %v, at most %d at once (parallel 2)", e.deployed, e.maxFlight)
	}
	if len(e.finished) != 0 || len(e.recorded) != 0 {
		t.Fatalf("finished %v recorded %v", e.finished, e.recorded)
	}
}

func TestDeploymentWithKONodesTerminates(t *testing.T) {
	e := newDeploymentEnv(t)
	e.onDeploy(func(p activities.DeployNodeParams) (activities.NodeResult, error) {
		switch p.Node {
		case "n2":
			return activities.NodeResult{Node: p.Node, State: store.NodeKO, Step: store.StepVerify, Reason: "checksum"}, nil
		case "n3":
			return activities.NodeResult{}, errors.New("store unreachable")
		}
		return activities.NodeResult{Node: p.Node, State: store.NodeOK, Step: store.StepCheck}, nil
	})
	e.ExecuteWorkflow(Deployment, params("n1", "n2", "n3"))
	r := e.result(t)
	if r.State != store.DeployTerminated || !slices.Equal(r.OK, []string{"n1"}) || !slices.Equal(r.KO, []string{"n2", "n3"}) {
		t.Fatalf("result %+v", r)
	}
	if !strings.Contains(r.Reason, "1 of 3 nodes OK") || !strings.Contains(r.Reason, "n2 at verify") || !strings.Contains(r.Reason, "retry") {
		t.Fatalf("reason %q", r.Reason)
	}
	// The engine's failure on n3 is recorded for it by the workflow; n2's
	// result was recorded by its activity.
	if len(e.recorded) != 1 || e.recorded[0].Node != "n3" || e.recorded[0].State != store.NodeKO || !strings.Contains(e.recorded[0].Reason, "store unreachable") {
		t.Fatalf("recorded %+v", e.recorded)
	}
}

func TestDeploymentCanceled(t *testing.T) {
	e := newDeploymentEnv(t)
	var a *activities.Activities
	e.OnActivity(a.DeployNode, mock.Anything, mock.Anything).After(time.Hour).Return(
		func(_ context.Context, p activities.DeployNodeParams) (activities.NodeResult, error) {
			return activities.NodeResult{Node: p.Node, State: store.NodeOK}, nil
		})
	e.RegisterDelayedCallback(e.CancelWorkflow, 10*time.Minute)
	e.ExecuteWorkflow(Deployment, params("n1", "n2", "n3"))
	r := e.result(t)
	if r.State != store.DeployCanceled || e.states[len(e.states)-1] != store.DeployCanceled {
		t.Fatalf("result %+v states %v", r, e.states)
	}
	if len(e.finished) != 1 || !strings.Contains(e.finished[0], "canceled") {
		t.Fatalf("unfinished nodes marked %v", e.finished)
	}
}

func TestDeploymentStoreDownIsAnError(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Activities
	var states []string
	env.OnActivity(a.SetDeploymentState, mock.Anything, "d1", mock.Anything, mock.Anything).Return(
		func(_ context.Context, _ string, state, _ string) error {
			if state == store.DeployProcessing {
				return errors.New("database is locked")
			}
			states = append(states, state)
			return nil
		})
	env.OnActivity(a.FinishUnfinishedNodes, mock.Anything, "d1", 1, mock.Anything).Return(0, nil)
	env.ExecuteWorkflow(Deployment, params("n1"))
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("workflow: %v", env.GetWorkflowError())
	}
	var r DeploymentResult
	_ = env.GetWorkflowResult(&r)
	if r.State != store.DeployError || !slices.Equal(states, []string{store.DeployError}) || !strings.Contains(r.Reason, "database is locked") {
		t.Fatalf("result %+v states %v", r, states)
	}
}

func TestDeploymentAsksForThePowerCycleFallback(t *testing.T) {
	e := newDeploymentEnv(t)
	e.onDeploy(func(p activities.DeployNodeParams) (activities.NodeResult, error) {
		if !p.PowerCycle {
			return activities.NodeResult{}, errors.New("a new run must ask for the power cycle fallback")
		}
		return activities.NodeResult{Node: p.Node, State: store.NodeOK, Step: store.StepCheck}, nil
	})
	e.ExecuteWorkflow(Deployment, params("n1"))
	if r := e.result(t); r.State != store.DeployTerminated || len(r.OK) != 1 {
		t.Fatalf("result %+v", r)
	}
}

// batchEnv is a deploymentEnv that runs the batch child workflows and
// records which workflow scheduled each activity.
func batchEnv(t *testing.T) (*deploymentEnv, map[string][]string) {
	e := newDeploymentEnv(t)
	e.RegisterWorkflowWithOptions(DeploymentBatch, workflow.RegisterOptions{Name: DeploymentBatchName})
	byWorkflow := map[string][]string{} // workflow id → activity types it scheduled
	e.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		e.mu.Lock()
		defer e.mu.Unlock()
		id := info.WorkflowExecution.ID
		byWorkflow[id] = append(byWorkflow[id], info.ActivityType.Name)
	})
	return e, byWorkflow
}

func manyNodes(n int) []string {
	nodes := make([]string, n)
	for i := range nodes {
		nodes[i] = fmt.Sprintf("n-%03d", i+1)
	}
	return nodes
}

// TestDeploymentOfManyNodesRunsInBatches: 250 nodes (more than
// deploy.BatchSize) go to three child workflows; the deployment's own
// history holds its two state changes and three children, whatever the node
// count, instead of about six events per node.
func TestDeploymentOfManyNodesRunsInBatches(t *testing.T) {
	e, byWorkflow := batchEnv(t)
	var children []string
	e.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, _ converter.EncodedValues) {
		children = append(children, info.WorkflowExecution.ID)
	})
	e.onDeploy(func(p activities.DeployNodeParams) (activities.NodeResult, error) {
		if p.Node == "n-150" {
			return activities.NodeResult{Node: p.Node, State: store.NodeKO, Step: store.StepBoot, Reason: "not back"}, nil
		}
		return activities.NodeResult{Node: p.Node, State: store.NodeOK, Step: store.StepCheck}, nil
	})
	nodes := manyNodes(250)
	p := params(nodes...)
	p.Options.Parallel = 0 // the default
	e.ExecuteWorkflow(Deployment, p)
	r := e.result(t)
	if r.State != store.DeployTerminated || len(r.OK) != 249 || !slices.Equal(r.KO, []string{"n-150"}) {
		t.Fatalf("result %s: %d OK, KO %v", r.State, len(r.OK), r.KO)
	}
	if !strings.Contains(r.Reason, "249 of 250 nodes OK") || !strings.Contains(r.Reason, "n-150 at boot") {
		t.Fatalf("reason %q", r.Reason)
	}
	if want := []string{"d1-run1-batch1", "d1-run1-batch2", "d1-run1-batch3"}; !slices.Equal(children, want) {
		t.Fatalf("children %v, want %v", children, want)
	}
	if got := byWorkflow["default-test-workflow-id"]; !slices.Equal(got, []string{"SetDeploymentState", "SetDeploymentState"}) {
		t.Fatalf("the deployment itself ran %v", got)
	}
	sizes := map[string]int{}
	for id, acts := range byWorkflow {
		sizes[id] = len(acts)
	}
	if sizes["d1-run1-batch1"] != 100 || sizes["d1-run1-batch2"] != 100 || sizes["d1-run1-batch3"] != 50 {
		t.Fatalf("activities per workflow %v", sizes)
	}
	slices.Sort(e.deployed)
	if !slices.Equal(e.deployed, nodes) || e.maxFlight > deploy.DefaultParallel {
		t.Fatalf("%d nodes deployed, at most %d at once (parallel %d)", len(e.deployed), e.maxFlight, deploy.DefaultParallel)
	}
}

// TestDeploymentOfManyNodesKeepsItsParallelism: with a parallelism of twice
// the batch size, two batches run at once, each with its share.
func TestDeploymentOfManyNodesKeepsItsParallelism(t *testing.T) {
	e, _ := batchEnv(t)
	running, most := 0, 0
	e.SetOnChildWorkflowStartedListener(func(*workflow.Info, workflow.Context, converter.EncodedValues) {
		running++
		most = max(most, running)
	})
	e.SetOnChildWorkflowCompletedListener(func(*workflow.Info, converter.EncodedValue, error) { running-- })
	var a *activities.Activities
	e.OnActivity(a.DeployNode, mock.Anything, mock.Anything).After(time.Minute).Return(
		func(_ context.Context, p activities.DeployNodeParams) (activities.NodeResult, error) {
			return activities.NodeResult{Node: p.Node, State: store.NodeOK}, nil
		})
	p := params(manyNodes(450)...)
	p.Options.Parallel = 2 * deploy.BatchSize
	e.ExecuteWorkflow(Deployment, p)
	if r := e.result(t); len(r.OK) != 450 {
		t.Fatalf("result %s: %d OK", r.State, len(r.OK))
	}
	if most != 2 {
		t.Fatalf("%d batches ran at once, want 2", most)
	}
}

// TestDeploymentBatchThatFailsLeavesItsNodesKO: a batch that cannot record
// its results fails; the deployment still ends, its nodes without a result
// KO with the batch's error.
func TestDeploymentBatchThatFailsLeavesItsNodesKO(t *testing.T) {
	e, _ := batchEnv(t)
	e.onDeploy(func(p activities.DeployNodeParams) (activities.NodeResult, error) {
		if p.Node == "n-120" {
			return activities.NodeResult{}, temporal.NewNonRetryableApplicationError("driver panicked", "Panic", nil)
		}
		return activities.NodeResult{Node: p.Node, State: store.NodeOK}, nil
	})
	e.recordErr = temporal.NewNonRetryableApplicationError("database is gone", "Store", nil)
	e.ExecuteWorkflow(Deployment, params(manyNodes(150)...))
	r := e.result(t)
	if r.State != store.DeployTerminated || len(r.OK) != 100 || len(r.KO) != 50 || !strings.Contains(r.Reason, "batch 2") {
		t.Fatalf("result %s %q: %d OK, %d KO", r.State, r.Reason, len(r.OK), len(r.KO))
	}
	if len(e.finished) != 1 || !strings.Contains(e.finished[0], "batch 2") || !strings.Contains(e.finished[0], "database is gone") {
		t.Fatalf("unfinished nodes marked %q", e.finished)
	}
}

// TestDeploymentOfManyNodesCanceled: canceling the deployment cancels its
// batches; it waits for them, then marks the nodes left KO.
func TestDeploymentOfManyNodesCanceled(t *testing.T) {
	e, _ := batchEnv(t)
	var a *activities.Activities
	e.OnActivity(a.DeployNode, mock.Anything, mock.Anything).After(time.Hour).Return(
		func(_ context.Context, p activities.DeployNodeParams) (activities.NodeResult, error) {
			return activities.NodeResult{Node: p.Node, State: store.NodeOK}, nil
		})
	e.RegisterDelayedCallback(e.CancelWorkflow, 10*time.Minute)
	e.ExecuteWorkflow(Deployment, params(manyNodes(300)...))
	r := e.result(t)
	if r.State != store.DeployCanceled || e.states[len(e.states)-1] != store.DeployCanceled {
		t.Fatalf("result %+v states %v", r, e.states)
	}
	if len(e.finished) != 1 || !strings.Contains(e.finished[0], "canceled") {
		t.Fatalf("unfinished nodes marked %v", e.finished)
	}
}
