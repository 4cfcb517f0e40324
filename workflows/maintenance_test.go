package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"github.com/gridflow/gridflow/activities"
)

func TestMaintenancePurgesWithGrace(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Activities
	env.OnActivity(a.PurgeExpiredTokens, mock.Anything, TokenGrace).Return(3, nil).Once()
	env.ExecuteWorkflow(Maintenance)
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("workflow did not complete: %v", env.GetWorkflowError())
	}
	var purged int
	if err := env.GetWorkflowResult(&purged); err != nil || purged != 3 {
		t.Fatalf("result = %d, %v; want 3", purged, err)
	}
	env.AssertExpectations(t)
}

func TestMaintenanceRetriesThenFails(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Activities
	calls := 0
	env.OnActivity(a.PurgeExpiredTokens, mock.Anything, mock.Anything).Return(func(_ context.Context, _ time.Duration) (int, error) {
		calls++
		return 0, errors.New("store down")
	})
	env.ExecuteWorkflow(Maintenance)
	if env.GetWorkflowError() == nil {
		t.Fatal("workflow succeeded although the store was down")
	}
	if calls != 5 {
		t.Fatalf("activity ran %d times, want 5 (the retry policy's maximum)", calls)
	}
}
