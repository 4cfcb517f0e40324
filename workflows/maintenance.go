// Package workflows holds Gridflow's deterministic Temporal workflows, one file
// per resource. No I/O, no wall clock, no goroutines here: see DESIGN.md.
package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/gridflow/gridflow/activities"
)

// TokenGrace is how long an expired token stays listed before it is purged, so
// a user can still see why their token stopped working.
const TokenGrace = 7 * 24 * time.Hour

// Maintenance runs the engine's housekeeping; a Temporal schedule starts it hourly.
func Maintenance(ctx workflow.Context) (int, error) {
	var a *activities.Activities
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 5},
	})
	var purged int
	err := workflow.ExecuteActivity(ctx, a.PurgeExpiredTokens, TokenGrace).Get(ctx, &purged)
	return purged, err
}
