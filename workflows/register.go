package workflows

import (
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/gridflow/gridflow/engine/resv"
)

// Register adds every workflow to a worker (or a replayer).
func Register(w worker.WorkflowRegistry) {
	w.RegisterWorkflow(Maintenance)
	w.RegisterWorkflow(Campaign)
	RegisterDeployment(w)
	RegisterTransfer(w)
	RegisterJob(w)
	w.RegisterWorkflowWithOptions(Reservation, workflow.RegisterOptions{Name: resv.WorkflowName})
}
