// Package activities holds Gridflow's side effects: everything a workflow asks to
// be done on the store or the hardware runs here, retried by Temporal.
package activities

import (
	"context"
	"time"

	"github.com/gridflow/gridflow/engine/deploy"
	"github.com/gridflow/gridflow/engine/hw"
	"github.com/gridflow/gridflow/engine/jobs"
	"github.com/gridflow/gridflow/engine/resv"
	"github.com/gridflow/gridflow/engine/store"
	"github.com/gridflow/gridflow/engine/transfer"
)

// Activities carries the dependencies of every activity; workflows reference its
// methods through a nil pointer (see the samples-go convention).
type Activities struct {
	Store *store.Store
	// Reservations places and cancels the reservations campaigns make.
	Reservations *resv.Service
	// Deployments is canceled when the reservation under it ends.
	Deployments *deploy.Service
	// Transfers holds the storage endpoints and the optimizer of transfers.
	Transfers *transfer.Service
	// Drivers returns the hardware drivers of the current testbed.
	Drivers func(ctx context.Context) (*hw.Drivers, error)
	// Jobs submits and kills the grid jobs of job steps.
	Jobs *jobs.Service
}

// PurgeExpiredTokens deletes bearer tokens that expired more than a grace period
// ago, so the tokens table does not grow with every OAuth2 request.
func (a *Activities) PurgeExpiredTokens(ctx context.Context, grace time.Duration) (int, error) {
	return a.Store.DeleteExpiredTokens(ctx, time.Now().Add(-grace))
}
