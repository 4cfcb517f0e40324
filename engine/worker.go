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
		// MaxHeartbeatThrottleInterval stays the SDK's default (80% of an
		// activity's heartbeat timeout): the SDK also gives up a heartbeat
		// call after that long and cancels the activity, so a short one
		// (2 s was tried) canceled commands on a loaded Temporal, found by
		// the e2e load test. The price: a DELETE reaches a long activity at
		// its next heartbeat that gets through, up to 16 s for 20 s.
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
