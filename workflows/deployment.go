package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/gridflow/gridflow/activities"
	"github.com/gridflow/gridflow/engine/deploy"
	"github.com/gridflow/gridflow/engine/store"
)

// DeploymentParams start a run of a deployment workflow; its id is the
// deployment id.
type DeploymentParams = deploy.Params

// DeploymentResult is how a run ended and which of its nodes are OK or KO.
type DeploymentResult struct {
	State  string
	Reason string
	OK     []string
	KO     []string
}

// RegisterDeployment adds the deployment workflow under the name the
// deployment service starts it by.
func RegisterDeployment(w worker.WorkflowRegistry) {
	w.RegisterWorkflowWithOptions(Deployment, workflow.RegisterOptions{Name: deploy.WorkflowName})
}

// Deployment runs one run of a deployment, kadeploy style: every node goes
// through its steps in an activity of its own, at most Parallel at a time;
// each node ends OK or KO with the step and the reason. The deployment is
// terminated once every node has a result, even when some are KO; it is in
// error only when the engine itself failed, and canceled when its workflow
// is canceled (the nodes without a result are then KO).
//
// History: three events per node and a few per run, so a run of thousands
// of nodes stays far below Temporal's limits.
func Deployment(ctx workflow.Context, p DeploymentParams) (DeploymentResult, error) {
	var a *activities.Activities
	storeCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second, MaximumAttempts: 10},
	})
	tmo := p.Options.Timeouts.WithDefaults()
	// The activity bounds each step itself; this bound only catches a lost
	// activity. Heartbeats notice a dead worker much sooner.
	nodeCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: tmo.Total(p.Options.Retries),
		HeartbeatTimeout:    20 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 10 * time.Second, MaximumAttempts: 3},
	})

	finish := func(state, reason string, ok, ko []string) (DeploymentResult, error) {
		// Record the end even if the workflow itself is being canceled.
		dctx, _ := workflow.NewDisconnectedContext(storeCtx)
		if state != store.DeployTerminated {
			var n int
			if err := workflow.ExecuteActivity(dctx, a.FinishUnfinishedNodes, p.ID, p.Run, reason).Get(dctx, &n); err != nil {
				return DeploymentResult{}, err
			}
		}
		if err := workflow.ExecuteActivity(dctx, a.SetDeploymentState, p.ID, state, reason).Get(dctx, nil); err != nil {
			return DeploymentResult{}, err
		}
		return DeploymentResult{State: state, Reason: reason, OK: ok, KO: ko}, nil
	}

	reason := fmt.Sprintf("run %d: deploying %s on %d nodes", p.Run, p.Env.Name, len(p.Nodes))
	if err := workflow.ExecuteActivity(storeCtx, a.SetDeploymentState, p.ID, store.DeployProcessing, reason).Get(storeCtx, nil); err != nil {
		if ctx.Err() != nil {
			return finish(store.DeployCanceled, "canceled by its owner", nil, nil)
		}
		return finish(store.DeployError, "cannot record the start: "+err.Error(), nil, nil)
	}

	parallel := p.Options.Parallel
	if parallel <= 0 {
		parallel = deploy.DefaultParallel
	}
	results := make([]activities.NodeResult, len(p.Nodes))
	var engineFailed []int
	sel := workflow.NewSelector(ctx)
	inflight, next := 0, 0
	launch := func() {
		for ctx.Err() == nil && inflight < parallel && next < len(p.Nodes) {
			i := next
			next++
			inflight++
			f := workflow.ExecuteActivity(nodeCtx, a.DeployNode, activities.DeployNodeParams{
				Deployment: p.ID, Run: p.Run, Reservation: p.Reservation, Node: p.Nodes[i], Env: p.Env,
				Timeouts: tmo, Retries: p.Options.Retries,
			})
			sel.AddFuture(f, func(f workflow.Future) {
				inflight--
				if err := f.Get(ctx, &results[i]); err != nil {
					results[i] = activities.NodeResult{Node: p.Nodes[i], State: store.NodeKO, Reason: "the engine could not deploy the node: " + err.Error()}
					var canceled *temporal.CanceledError
					if !errors.As(err, &canceled) {
						engineFailed = append(engineFailed, i)
					}
				}
			})
		}
	}
	launch()
	for inflight > 0 {
		sel.Select(ctx)
		launch()
	}
	if ctx.Err() != nil {
		return finish(store.DeployCanceled, "canceled by its owner", nil, nil)
	}
	for _, i := range engineFailed {
		if err := workflow.ExecuteActivity(storeCtx, a.RecordNodeResult, p.ID, p.Run, results[i]).Get(storeCtx, nil); err != nil {
			return finish(store.DeployError, "cannot record the result of "+p.Nodes[i]+": "+err.Error(), nil, nil)
		}
	}

	var ok, ko, why []string
	for _, r := range results {
		if r.State == store.NodeOK {
			ok = append(ok, r.Node)
			continue
		}
		ko = append(ko, r.Node)
		if len(why) < 3 {
			at := ""
			if r.Step != "" {
				at = " at " + r.Step
			}
			why = append(why, r.Node+at)
		}
	}
	reason = fmt.Sprintf("run %d: %d of %d nodes OK", p.Run, len(ok), len(p.Nodes))
	if len(ko) > 0 {
		reason += "; KO: " + strings.Join(why, ", ")
		if len(ko) > len(why) {
			reason += fmt.Sprintf(" and %d more", len(ko)-len(why))
		}
		reason += " (POST …/retry redeploys them)"
	}
	return finish(store.DeployTerminated, reason, ok, ko)
}
