package engine

import (
	"time"

	"go.temporal.io/sdk/worker"

	"github.com/gridflow/gridflow/activities"
	"github.com/gridflow/gridflow/workflows"
)

// NewWorker returns a worker on the Gridflow task queue with every workflow and
// activity registered; the caller starts and stops it.
func (e *Engine) NewWorker() worker.Worker {
	w := worker.New(e.Temporal, TaskQueue, worker.Options{
		// Long activities (a deployment's write, a command) learn of a
		// cancel only in a heartbeat's answer: the SDK's default holds
		// heartbeats back to 80% of their timeout (16 s for 20 s), so a
		// DELETE would take that long to reach the nodes.
		MaxHeartbeatThrottleInterval: 2 * time.Second,
		// On a graceful stop, running activities see their context end
		// and report it, so that Temporal retries them at once on the next
		// worker rather than after their heartbeat timeout.
		WorkerStopTimeout: 5 * time.Second,
	})
	workflows.Register(w)
	w.RegisterActivity(&activities.Activities{Store: e.Store, Reservations: e.Reservations, Deployments: e.Deployments, Transfers: e.Transfers, Drivers: e.Drivers, Jobs: e.Jobs})
	w.RegisterActivity(&activities.JobActivities{Store: e.Store, Jobs: e.Jobs, Reservations: e.Reservations, Drivers: e.Drivers, NodeLostAfter: e.JobNodeLostAfter})
	return w
}
