package engine

import (
	"go.temporal.io/sdk/worker"

	"github.com/gridflow/gridflow/activities"
	"github.com/gridflow/gridflow/workflows"
)

// NewWorker returns a worker on the Gridflow task queue with every workflow and
// activity registered; the caller starts and stops it.
func (e *Engine) NewWorker() worker.Worker {
	w := worker.New(e.Temporal, TaskQueue, worker.Options{})
	workflows.Register(w)
	w.RegisterActivity(&activities.Activities{Store: e.Store, Reservations: e.Reservations, Deployments: e.Deployments, Transfers: e.Transfers, Drivers: e.Drivers})
	return w
}
