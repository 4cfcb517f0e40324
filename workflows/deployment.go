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

// DeploymentBatchName is the registered name of the child workflow that
// deploys one batch of the nodes of a large deployment.
const DeploymentBatchName = "DeploymentBatch"

// Changes of the deployment workflow, for workflow.GetVersion: a run started
// before a change replays and goes on as it began.
const (
	// deploymentPowerCycleChange: a node whose boot fails after its soft
	// reboots is power-cycled before it is KO, and the bound of its
	// activity grows by the power cycle and one more boot.
	deploymentPowerCycleChange = "deployment-power-cycle"
	// deploymentBatchesChange: a run of more than deploy.BatchSize nodes
	// deploys them in child workflows of deploy.BatchSize nodes.
	deploymentBatchesChange = "deployment-batches"
)

// RegisterDeployment adds the deployment workflow under the name the
// deployment service starts it by, and its batch child workflow.
func RegisterDeployment(w worker.WorkflowRegistry) {
	w.RegisterWorkflowWithOptions(Deployment, workflow.RegisterOptions{Name: deploy.WorkflowName})
	w.RegisterWorkflowWithOptions(DeploymentBatch, workflow.RegisterOptions{Name: DeploymentBatchName})
}

// deploymentContexts are the activity options of a deployment: store
// calls, and one node's deployment bounded by its steps' timeouts.
func deploymentContexts(ctx workflow.Context, p DeploymentParams, powerCycle bool) (storeCtx, nodeCtx workflow.Context) {
	storeCtx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second, MaximumAttempts: 10},
	})
	tmo := p.Options.Timeouts.WithDefaults()
	total := tmo.Total(p.Options.Retries)
	if powerCycle {
		total = tmo.TotalWithPowerCycle(p.Options.Retries)
	}
	// The activity bounds each step itself; this bound only catches a lost
	// activity. Heartbeats notice a dead worker much sooner.
	nodeCtx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: total,
		HeartbeatTimeout:    20 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 10 * time.Second, MaximumAttempts: 3},
	})
	return storeCtx, nodeCtx
}

// Deployment runs one run of a deployment, kadeploy style: every node goes
// through its steps in an activity of its own, at most Parallel at a time;
// each node ends OK or KO with the step and the reason. The deployment is
// terminated once every node has a result, even when some are KO; it is in
// error only when the engine itself failed, and canceled when its workflow
// is canceled (the nodes without a result are then KO).
//
// History: about six events per node and a few per run. A run of more than
// deploy.BatchSize nodes hands its nodes to child workflows of
// deploy.BatchSize nodes each (DeploymentBatch), so that its own history
// grows by a few events per batch and no history holds more than a batch's
// nodes: thousands of nodes stay far below Temporal's limits.
func Deployment(ctx workflow.Context, p DeploymentParams) (DeploymentResult, error) {
	powerCycle := workflow.GetVersion(ctx, deploymentPowerCycleChange, workflow.DefaultVersion, 1) >= 1
	var a *activities.Activities
	storeCtx, nodeCtx := deploymentContexts(ctx, p, powerCycle)

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

	var sum DeploymentBatchResult
	if len(p.Nodes) > deploy.BatchSize && workflow.GetVersion(ctx, deploymentBatchesChange, workflow.DefaultVersion, 1) >= 1 {
		var failed []string
		sum, failed = deployBatches(ctx, p, powerCycle)
		if ctx.Err() != nil {
			return finish(store.DeployCanceled, "canceled by its owner", nil, nil)
		}
		if len(failed) > 0 {
			// Nodes of a failed batch that have no result are KO, as a node
			// the engine could not deploy is.
			msg := "the engine could not deploy the node: " + strings.Join(failed, "; ")
			var n int
			if err := workflow.ExecuteActivity(storeCtx, a.FinishUnfinishedNodes, p.ID, p.Run, msg).Get(storeCtx, &n); err != nil {
				return finish(store.DeployError, "cannot record the nodes of failed batches: "+err.Error(), nil, nil)
			}
		}
	} else {
		results, engineFailed := deployNodes(ctx, nodeCtx, p, p.Nodes, p.Options.Parallel, powerCycle)
		if ctx.Err() != nil {
			return finish(store.DeployCanceled, "canceled by its owner", nil, nil)
		}
		for _, i := range engineFailed {
			if err := workflow.ExecuteActivity(storeCtx, a.RecordNodeResult, p.ID, p.Run, results[i]).Get(storeCtx, nil); err != nil {
				return finish(store.DeployError, "cannot record the result of "+p.Nodes[i]+": "+err.Error(), nil, nil)
			}
		}
		sum = summarize(results)
	}

	reason = fmt.Sprintf("run %d: %d of %d nodes OK", p.Run, len(sum.OK), len(p.Nodes))
	if len(sum.KO) > 0 {
		reason += "; KO: " + strings.Join(sum.Why, ", ")
		if len(sum.KO) > len(sum.Why) {
			reason += fmt.Sprintf(" and %d more", len(sum.KO)-len(sum.Why))
		}
		reason += " (POST …/retry redeploys them)"
	}
	return finish(store.DeployTerminated, reason, sum.OK, sum.KO)
}

// deployNodes runs DeployNode for nodes, at most parallel at a time, and
// returns their results in the order of nodes, with the indices of those
// the engine itself failed on (their results are not recorded yet). It
// stops launching when ctx is canceled and returns once none runs.
func deployNodes(ctx, nodeCtx workflow.Context, p DeploymentParams, nodes []string, parallel int, powerCycle bool) ([]activities.NodeResult, []int) {
	var a *activities.Activities
	if parallel <= 0 {
		parallel = deploy.DefaultParallel
	}
	tmo := p.Options.Timeouts.WithDefaults()
	results := make([]activities.NodeResult, len(nodes))
	var engineFailed []int
	sel := workflow.NewSelector(ctx)
	inflight, next := 0, 0
	launch := func() {
		for ctx.Err() == nil && inflight < parallel && next < len(nodes) {
			i := next
			next++
			inflight++
			f := workflow.ExecuteActivity(nodeCtx, a.DeployNode, activities.DeployNodeParams{
				Deployment: p.ID, Run: p.Run, Reservation: p.Reservation, Node: nodes[i], Env: p.Env,
				Timeouts: tmo, Retries: p.Options.Retries, PowerCycle: powerCycle,
			})
			sel.AddFuture(f, func(f workflow.Future) {
				inflight--
				if err := f.Get(ctx, &results[i]); err != nil {
					results[i] = activities.NodeResult{Node: nodes[i], State: store.NodeKO, Reason: "the engine could not deploy the node: " + err.Error()}
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
	return results, engineFailed
}

// whyShown is how many KO nodes a deployment's reason names.
const whyShown = 3

// summarize lists the OK and KO nodes of results.
func summarize(results []activities.NodeResult) DeploymentBatchResult {
	var r DeploymentBatchResult
	for _, n := range results {
		if n.State == store.NodeOK {
			r.OK = append(r.OK, n.Node)
			continue
		}
		r.KO = append(r.KO, n.Node)
		if len(r.Why) < whyShown {
			at := ""
			if n.Step != "" {
				at = " at " + n.Step
			}
			r.Why = append(r.Why, n.Node+at)
		}
	}
	return r
}

// DeploymentBatchParams start a batch: the nodes of Params.Nodes, at most
// Parallel at a time.
type DeploymentBatchParams struct {
	Params     DeploymentParams
	Batch      int
	Parallel   int
	PowerCycle bool
}

// DeploymentBatchResult is what a batch reports to its deployment: its OK
// and KO nodes, and "node at step" for the first KO ones.
type DeploymentBatchResult struct {
	OK  []string
	KO  []string
	Why []string
}

// deployBatches deploys p's nodes in child workflows of deploy.BatchSize
// nodes. As many batches run at once as fit in the deployment's
// parallelism, each with its share; with the default parallelism they run
// one after the other. It returns the merged results and, for each batch
// that failed, why.
func deployBatches(ctx workflow.Context, p DeploymentParams, powerCycle bool) (DeploymentBatchResult, []string) {
	parallel := p.Options.Parallel
	if parallel <= 0 {
		parallel = deploy.DefaultParallel
	}
	var batches [][]string
	for i := 0; i < len(p.Nodes); i += deploy.BatchSize {
		batches = append(batches, p.Nodes[i:min(i+deploy.BatchSize, len(p.Nodes))])
	}
	perBatch := min(parallel, deploy.BatchSize)
	atOnce := max(1, parallel/perBatch)
	results := make([]DeploymentBatchResult, len(batches))
	failedErr := make([]error, len(batches))
	sel := workflow.NewSelector(ctx)
	inflight, next := 0, 0
	launch := func() {
		for ctx.Err() == nil && inflight < atOnce && next < len(batches) {
			i := next
			next++
			inflight++
			bp := p
			bp.Nodes = batches[i]
			cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
				WorkflowID: fmt.Sprintf("%s-run%d-batch%d", p.ID, p.Run, i+1),
				// A canceled deployment waits for its batches to stop
				// writing before it marks the nodes left KO.
				WaitForCancellation: true,
			})
			f := workflow.ExecuteChildWorkflow(cctx, DeploymentBatchName, DeploymentBatchParams{Params: bp, Batch: i + 1, Parallel: perBatch, PowerCycle: powerCycle})
			sel.AddFuture(f, func(f workflow.Future) {
				inflight--
				if err := f.Get(ctx, &results[i]); err != nil {
					failedErr[i] = err
				}
			})
		}
	}
	launch()
	for inflight > 0 {
		sel.Select(ctx)
		launch()
	}
	var sum DeploymentBatchResult
	var failed []string
	for i, r := range results {
		if err := failedErr[i]; err != nil {
			var canceled *temporal.CanceledError
			if !errors.As(err, &canceled) {
				failed = append(failed, fmt.Sprintf("batch %d (%s…): %v", i+1, batches[i][0], err))
			}
			sum.KO = append(sum.KO, batches[i]...)
			if len(sum.Why) < whyShown {
				sum.Why = append(sum.Why, fmt.Sprintf("batch %d of %d nodes from %s", i+1, len(batches[i]), batches[i][0]))
			}
			continue
		}
		sum.OK = append(sum.OK, r.OK...)
		sum.KO = append(sum.KO, r.KO...)
		for _, w := range r.Why {
			if len(sum.Why) < whyShown {
				sum.Why = append(sum.Why, w)
			}
		}
	}
	return sum, failed
}

// DeploymentBatch deploys one batch of a large deployment: the nodes of
// p.Params, at most p.Parallel at a time, and records the results the
// engine failed on itself (the activities record the others). Its history
// is about six events per node of the batch.
func DeploymentBatch(ctx workflow.Context, p DeploymentBatchParams) (DeploymentBatchResult, error) {
	var a *activities.Activities
	storeCtx, nodeCtx := deploymentContexts(ctx, p.Params, p.PowerCycle)
	nodes := p.Params.Nodes
	results, engineFailed := deployNodes(ctx, nodeCtx, p.Params, nodes, p.Parallel, p.PowerCycle)
	if ctx.Err() != nil {
		return DeploymentBatchResult{}, ctx.Err()
	}
	for _, i := range engineFailed {
		if err := workflow.ExecuteActivity(storeCtx, a.RecordNodeResult, p.Params.ID, p.Params.Run, results[i]).Get(storeCtx, nil); err != nil {
			return DeploymentBatchResult{}, fmt.Errorf("cannot record the result of %s: %w", nodes[i], err)
		}
	}
	return summarize(results), nil
}
