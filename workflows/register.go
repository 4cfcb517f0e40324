package workflows

import "go.temporal.io/sdk/worker"

// Register adds every workflow to a worker (or a replayer).
func Register(w worker.WorkflowRegistry) {
	w.RegisterWorkflow(Maintenance)
	w.RegisterWorkflow(Reservation)
}
