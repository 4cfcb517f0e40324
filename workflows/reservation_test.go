package workflows

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/gridflow/gridflow/activities"
	"github.com/gridflow/gridflow/engine/store"
)

// reservationEnv mocks the activities and records the states set, in order.
func reservationEnv(t *testing.T, launchErr error) (*testsuite.TestWorkflowEnvironment, *[]string, *int) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Activities
	var states []string
	releases := 0
	env.OnActivity(a.SetReservationState, mock.Anything, "r1", mock.Anything, mock.Anything).Return(
		func(_ context.Context, _ string, state, _ string) error { states = append(states, state); return nil })
	env.OnActivity(a.LaunchReservation, mock.Anything, "r1").Return(launchErr)
	env.OnActivity(a.ReleaseReservation, mock.Anything, "r1").Return(func(_ context.Context, _ string) error { releases++; return nil })
	return env, &states, &releases
}

func result(t *testing.T, env *testsuite.TestWorkflowEnvironment) ReservationResult {
	t.Helper()
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("workflow did not complete: %v", env.GetWorkflowError())
	}
	var r ReservationResult
	if err := env.GetWorkflowResult(&r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestReservationRunsUntilWalltime(t *testing.T) {
	env, states, releases := reservationEnv(t, nil)
	start := env.Now().Add(time.Hour)
	end := start.Add(2 * time.Hour)
	env.ExecuteWorkflow(Reservation, ReservationParams{ID: "r1", Start: start, End: end})
	r := result(t, env)
	if r.State != store.ResTerminated || r.Reason != "walltime reached" {
		t.Fatalf("result %+v", r)
	}
	if got := *states; len(got) != 3 || got[0] != store.ResLaunching || got[1] != store.ResRunning || got[2] != store.ResTerminated {
		t.Fatalf("states %v", got)
	}
	if *releases != 1 {
		t.Fatalf("released %d times", *releases)
	}
	if !env.Now().Equal(end) && env.Now().Before(end) {
		t.Fatalf("ended at %s, before the walltime end %s", env.Now(), end)
	}
}

func TestReservationCanceledBeforeStartNeverLaunches(t *testing.T) {
	env, states, releases := reservationEnv(t, nil)
	start := env.Now().Add(time.Hour)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalCancel, nil) }, 10*time.Minute)
	env.ExecuteWorkflow(Reservation, ReservationParams{ID: "r1", Start: start, End: start.Add(time.Hour)})
	r := result(t, env)
	if r.State != store.ResCanceled || len(*states) != 1 || *releases != 1 {
		t.Fatalf("result %+v states %v releases %d", r, *states, *releases)
	}
}

func TestReservationWalltimeSignalMovesTheEnd(t *testing.T) {
	env, _, _ := reservationEnv(t, nil)
	t0 := env.Now()
	end, later := t0.Add(time.Hour), t0.Add(3*time.Hour)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalWalltime, later) }, 30*time.Minute)
	env.ExecuteWorkflow(Reservation, ReservationParams{ID: "r1", Start: t0, End: end})
	result(t, env)
	if env.Now().Before(later) {
		t.Fatalf("ended at %s, before the extended end %s", env.Now(), later)
	}
}

func TestReservationPreemptedWhileRunning(t *testing.T) {
	env, _, releases := reservationEnv(t, nil)
	t0 := env.Now()
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalPreempt, "r2") }, 5*time.Minute)
	env.ExecuteWorkflow(Reservation, ReservationParams{ID: "r1", Start: t0, End: t0.Add(10 * time.Hour)})
	r := result(t, env)
	if r.State != store.ResTerminated || *releases != 1 || env.Now().After(t0.Add(time.Hour)) {
		t.Fatalf("result %+v at %s", r, env.Now())
	}
}

func TestReservationLaunchFailureReleasesAndErrors(t *testing.T) {
	env, states, releases := reservationEnv(t, errors.New("node a-1 is down"))
	t0 := env.Now()
	env.ExecuteWorkflow(Reservation, ReservationParams{ID: "r1", Start: t0, End: t0.Add(time.Hour)})
	r := result(t, env)
	last := (*states)[len(*states)-1]
	if r.State != store.ResError || last != store.ResError || *releases != 1 {
		t.Fatalf("result %+v states %v releases %d", r, *states, *releases)
	}
}

// TestReplayRecordedHistories guards determinism: histories recorded from real
// runs (cmd/gridflow tests with GRIDFLOW_RECORD_HISTORIES=1) must replay
// against the current code.
func TestReplayRecordedHistories(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	if len(files) == 0 {
		t.Fatal("no recorded histories in testdata")
	}
	for _, f := range files {
		r := worker.NewWorkflowReplayer()
		Register(r)
		if err := r.ReplayWorkflowHistoryFromJSONFile(nil, f); err != nil {
			t.Errorf("%s does not replay: %v", f, err)
		}
	}
}
