package engine

import (
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/gridflow/gridflow/activities"
	"github.com/gridflow/gridflow/engine/store"
	"github.com/gridflow/gridflow/workflows"
)

// NewWorker returns a worker on the Gridflow task queue with every workflow and
// activity registered; the caller starts and stops it.
func NewWorker(tc client.Client, st *store.Store) worker.Worker {
	w := worker.New(tc, TaskQueue, worker.Options{})
	workflows.Register(w)
	w.RegisterActivity(&activities.Activities{Store: st})
	return w
}
