package activities

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/gridflow/gridflow/engine/store"
)

func newStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.MigrateUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

func insert(t *testing.T, st *store.Store, id string, nodes ...string) {
	t.Helper()
	now := time.Now()
	err := st.WithAllocationLock(context.Background(), func(a *store.AllocTx) error {
		return a.Insert(context.Background(), store.Reservation{ID: id, Site: "s", Owner: "alice", Queue: "default",
			State: store.ResWaiting, Nodes: nodes, Walltime: time.Hour, StartAt: now, EndAt: now.Add(time.Hour)}, "test")
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLaunchAndReleaseMarkOnlyTheirNodes(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	a := &Activities{Store: st}
	insert(t, st, "r1", "n1", "n2")
	if err := a.LaunchReservation(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	states, _ := st.NodeStates(ctx)
	if states["n1"].State != "reserved" || states["n2"].State != "reserved" {
		t.Fatalf("after launch: %v", states)
	}
	// n2 fails meanwhile: release must not mark it free.
	if err := st.SetNodeState(ctx, "n2", "down", "disk"); err != nil {
		t.Fatal(err)
	}
	for range 2 { // retried activity: idempotent
		if err := a.ReleaseReservation(ctx, "r1"); err != nil {
			t.Fatal(err)
		}
	}
	states, _ = st.NodeStates(ctx)
	if states["n1"].State != "free" || states["n2"].State != "down" {
		t.Fatalf("after release: %v", states)
	}
}

func TestLaunchRefusesDownNodes(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	a := &Activities{Store: st}
	insert(t, st, "r1", "n1")
	if err := st.SetNodeState(ctx, "n1", "down", "unreachable"); err != nil {
		t.Fatal(err)
	}
	if err := a.LaunchReservation(ctx, "r1"); err == nil {
		t.Fatal("launched on a down node")
	}
}

func TestSetStateIsIdempotentAfterTheEnd(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	a := &Activities{Store: st}
	insert(t, st, "r1", "n1")
	for _, s := range []string{store.ResLaunching, store.ResRunning, store.ResTerminated, store.ResTerminated, store.ResRunning} {
		if err := a.SetReservationState(ctx, "r1", s, ""); err != nil {
			t.Fatalf("set %s: %v", s, err)
		}
	}
	r, _ := st.GetReservation(ctx, "r1")
	if r.State != store.ResTerminated {
		t.Fatalf("a final state was left: %s", r.State)
	}
	evs, _ := st.ReservationEvents(ctx, "r1", 0, 100)
	if len(evs) != 4 { // waiting, launching, running, terminated: repeats add nothing
		t.Fatalf("%d events", len(evs))
	}
	if err := a.SetReservationState(ctx, "nope", store.ResRunning, ""); err == nil {
		t.Fatal("unknown reservation accepted")
	}
}
