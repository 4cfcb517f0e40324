package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestEnvironmentsCatalog(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		pub := Environment{Name: "debian12-min", Version: "2024.1", URL: "https://x/d.tar", Checksum: "sha256:00", Owner: "gridflow", Visibility: VisibilityPublic}
		for range 2 { // seeding twice, as replicas do, adds nothing the second time
			must(t, s.SeedEnvironments(ctx, []Environment{pub}), "SeedEnvironments")
		}
		if _, err := s.CreateEnvironment(ctx, pub); !errors.Is(err, ErrConflict) {
			t.Fatalf("duplicate name@version: %v, want ErrConflict", err)
		}
		mine := Environment{Name: "mine", Version: "1", URL: "https://x/m.tar", Checksum: "sha256:01", Size: 5 << 30, Owner: "alice", Visibility: VisibilityPrivate}
		_, err := s.CreateEnvironment(ctx, mine)
		must(t, err, "CreateEnvironment v1")
		mine.Version = "2"
		_, err = s.CreateEnvironment(ctx, mine)
		must(t, err, "CreateEnvironment v2")
		for _, bad := range []Environment{
			{Name: "a@b", Version: "1", Visibility: VisibilityPublic},
			{Name: "x", Version: "1", Visibility: "world"},
			{Name: "x", Version: "1", Visibility: VisibilityProject},
		} {
			if _, err := s.CreateEnvironment(ctx, bad); !errors.Is(err, ErrInvalid) {
				t.Errorf("CreateEnvironment(%+v) = %v, want ErrInvalid", bad, err)
			}
		}
		all, err := s.ListEnvironments(ctx, "")
		must(t, err, "ListEnvironments")
		if len(all) != 3 || all[0].Name != "debian12-min" {
			t.Fatalf("catalog %+v", all)
		}
		vs, err := s.ListEnvironments(ctx, "mine")
		must(t, err, "ListEnvironments(mine)")
		if len(vs) != 2 || vs[0].Size != 5<<30 {
			t.Fatalf("versions %+v", vs)
		}
		got, err := s.GetEnvironment(ctx, "mine", "1")
		must(t, err, "GetEnvironment")
		if got.Ref() != "mine@1" || got.Owner != "alice" || got.CreatedAt.IsZero() {
			t.Fatalf("got %+v", got)
		}
		must(t, s.DeleteEnvironment(ctx, "mine", "1"), "DeleteEnvironment")
		if err := s.DeleteEnvironment(ctx, "mine", "1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
		if _, err := s.GetEnvironment(ctx, "mine", "1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("deleted version: %v", err)
		}
	})
}

func TestDeploymentLifecycle(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		d := Deployment{ID: "d1", Site: "s", Owner: "alice", ReservationID: "r1", Environment: "debian12-min@2024.1",
			EnvChecksum: "sha256:00", State: DeployWaiting}
		d, err := s.InsertDeployment(ctx, d, []string{"n2", "n1"}, false)
		must(t, err, "InsertDeployment")
		if len(d.Nodes) != 2 || d.Nodes[0].Node != "n1" || d.Run != 1 {
			t.Fatalf("inserted %+v", d)
		}

		// A second deployment on n2 is refused while d1 writes to it, and
		// records nothing; force goes ahead.
		d2 := Deployment{ID: "d2", Site: "s", Owner: "alice", ReservationID: "r1", Environment: "x@1", EnvChecksum: "sha256:00", State: DeployWaiting}
		_, err = s.InsertDeployment(ctx, d2, []string{"n2", "n3"}, false)
		var busy *BusyError
		if !errors.As(err, &busy) || !errors.Is(err, ErrConflict) || len(busy.Nodes) != 1 || busy.Nodes[0] != "n2" || busy.By[0] != "d1" {
			t.Fatalf("busy node: %v", err)
		}
		if _, err := s.GetDeployment(ctx, "d2"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("refused deployment recorded: %v", err)
		}
		_, err = s.InsertDeployment(ctx, d2, []string{"n2", "n3"}, true)
		must(t, err, "InsertDeployment(force)")
		must(t, s.DeleteDeployment(ctx, "d2"), "DeleteDeployment")

		must(t, s.SetDeploymentState(ctx, "d1", DeployProcessing, ""), "processing")
		must(t, s.UpdateDeploymentNode(ctx, "d1", "n1", 1, NodeUpdate{State: NodeProcessing, Step: StepWrite, AddAttempt: true}), "n1 write")
		must(t, s.UpdateDeploymentNode(ctx, "d1", "n1", 1, NodeUpdate{State: NodeOK, Step: StepCheck, Timings: map[string]float64{"write": 1.5}}), "n1 ok")
		must(t, s.UpdateDeploymentNode(ctx, "d1", "n2", 1, NodeUpdate{State: NodeKO, Step: StepVerify, Reason: "checksum sha256:aa, want sha256:00", AddAttempt: true}), "n2 ko")
		must(t, s.SetDeploymentState(ctx, "d1", DeployTerminated, "1 ok, 1 ko"), "terminated")
		if err := s.SetDeploymentState(ctx, "d1", DeployProcessing, ""); !errors.Is(err, ErrFinal) {
			t.Fatalf("left a final state: %v", err)
		}
		list, total, err := s.ListDeployments(ctx, DeploymentFilter{Site: "s", Owner: "alice", Environment: "debian12-min"})
		must(t, err, "ListDeployments")
		if total != 1 || len(list) != 1 || len(list[0].Nodes) != 2 || list[0].Nodes[0].Timings["write"] != 1.5 {
			t.Fatalf("list %d %+v", total, list)
		}
		if _, total, _ := s.ListDeployments(ctx, DeploymentFilter{State: DeployProcessing}); total != 0 {
			t.Fatalf("state filter: %d", total)
		}

		// Retry: only n2 runs again, in run 2; a late update of run 1 is ignored.
		d, nodes, err := s.RestartDeployment(ctx, "d1", false)
		must(t, err, "RestartDeployment")
		if len(nodes) != 1 || nodes[0] != "n2" || d.Run != 2 || d.State != DeployWaiting {
			t.Fatalf("restart: %v %+v", nodes, d)
		}
		if _, _, err := s.RestartDeployment(ctx, "d1", false); !errors.Is(err, ErrConflict) {
			t.Fatalf("restart of an unfinished deployment: %v", err)
		}
		must(t, s.UpdateDeploymentNode(ctx, "d1", "n2", 1, NodeUpdate{State: NodeOK}), "late update")
		d, _ = s.GetDeployment(ctx, "d1")
		if n1, n2 := d.Nodes[0], d.Nodes[1]; n1.Run != 1 || n1.State != NodeOK || n2.Run != 2 || n2.State != NodePending || n2.Attempts != 1 {
			t.Fatalf("after restart: %+v", d.Nodes)
		}
		// The new run could not start: back as it was.
		must(t, s.UndoRestart(ctx, "d1", 2, DeployTerminated, "retry failed to start"), "UndoRestart")
		d, _ = s.GetDeployment(ctx, "d1")
		if d.Run != 1 || d.State != DeployTerminated || d.Nodes[1].State != NodeKO || d.Nodes[1].Run != 1 {
			t.Fatalf("after undo: %+v", d)
		}

		// Cancel: unfinished nodes become KO.
		_, _, err = s.RestartDeployment(ctx, "d1", false)
		must(t, err, "RestartDeployment again")
		n, err := s.FinishUnfinishedNodes(ctx, "d1", 2, "canceled")
		must(t, err, "FinishUnfinishedNodes")
		must(t, s.SetDeploymentState(ctx, "d1", DeployCanceled, "canceled by its owner"), "canceled")
		d, _ = s.GetDeployment(ctx, "d1")
		if n != 1 || d.Nodes[1].State != NodeKO || d.Nodes[1].Reason != "canceled" || d.Nodes[0].State != NodeOK {
			t.Fatalf("after cancel (%d): %+v", n, d.Nodes)
		}
		// An activity still running after the cancel changes nothing.
		must(t, s.UpdateDeploymentNode(ctx, "d1", "n2", 2, NodeUpdate{State: NodeOK}), "update after the end")
		if d, _ = s.GetDeployment(ctx, "d1"); d.Nodes[1].State != NodeKO {
			t.Fatalf("a canceled deployment's node changed: %+v", d.Nodes[1])
		}
		if _, _, err := s.RestartDeployment(ctx, "nope", false); !errors.Is(err, ErrNotFound) {
			t.Fatalf("restart unknown: %v", err)
		}
	})
}

// TestDeploymentChanges: the rows' updated_at are the event stream of the
// deployments; a change of many rows at one instant is never cut by the
// limit, and the nodes of a deployment that ended are still seen.
func TestDeploymentChanges(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		clock := t0
		s.now = func() time.Time { return clock }
		at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
		tick := func(sec int) { clock = at(sec) }
		changes := func(f DeploymentChangeFilter) []string {
			t.Helper()
			cs, err := s.DeploymentChanges(ctx, f)
			must(t, err, "DeploymentChanges")
			out := make([]string, len(cs))
			for i, c := range cs {
				out[i] = fmt.Sprintf("%d %s/%s %s %s", int(c.At.Sub(t0).Seconds()), c.Deployment, c.Node, c.State, c.Step)
				if c.Site != "s" || c.Run != 1 {
					t.Fatalf("change %+v", c)
				}
			}
			return out
		}
		want := func(got []string, want ...string) {
			t.Helper()
			if !slices.Equal(got, want) {
				t.Fatalf("changes\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}

		tick(1)
		_, err := s.InsertDeployment(ctx, Deployment{ID: "d1", Site: "s", Owner: "alice", ReservationID: "r1", Environment: "e@1",
			EnvChecksum: "sha256:00", State: DeployWaiting}, []string{"n1", "n2", "n3", "n4", "n5"}, false)
		must(t, err, "InsertDeployment")
		// Six rows changed at one instant: a limit of 3 does not cut them.
		all := changes(DeploymentChangeFilter{Limit: 3})
		want(all, "1 d1/ waiting ", "1 d1/n1 pending ", "1 d1/n2 pending ", "1 d1/n3 pending ", "1 d1/n4 pending ", "1 d1/n5 pending ")

		tick(2)
		must(t, s.SetDeploymentState(ctx, "d1", DeployProcessing, ""), "processing")
		tick(3)
		must(t, s.UpdateDeploymentNode(ctx, "d1", "n1", 1, NodeUpdate{State: NodeProcessing, Step: StepWrite}), "n1")
		tick(4)
		must(t, s.UpdateDeploymentNode(ctx, "d1", "n2", 1, NodeUpdate{State: NodeProcessing, Step: StepWrite}), "n2")
		want(changes(DeploymentChangeFilter{After: at(1)}), "2 d1/ processing ", "3 d1/n1 processing write", "4 d1/n2 processing write")
		want(changes(DeploymentChangeFilter{After: at(1), Until: at(3)}), "2 d1/ processing ", "3 d1/n1 processing write")
		// A limit cuts after a complete instant: the caller goes on from it.
		want(changes(DeploymentChangeFilter{After: at(1), Limit: 1}), "2 d1/ processing ")
		want(changes(DeploymentChangeFilter{After: at(2), Limit: 1}), "3 d1/n1 processing write")

		// Another owner's deployment, filtered by owner, site and id.
		tick(5)
		_, err = s.InsertDeployment(ctx, Deployment{ID: "d2", Site: "s", Owner: "bob", ReservationID: "r2", Environment: "e@1",
			EnvChecksum: "sha256:00", State: DeployWaiting}, []string{"m1"}, false)
		must(t, err, "InsertDeployment d2")
		want(changes(DeploymentChangeFilter{After: at(4), Owner: "alice"}))
		want(changes(DeploymentChangeFilter{After: at(4), Owner: "bob"}), "5 d2/ waiting ", "5 d2/m1 pending ")
		want(changes(DeploymentChangeFilter{After: at(4), Deployment: "d1"}))
		want(changes(DeploymentChangeFilter{After: at(4), Site: "elsewhere"}))

		// Canceled: the nodes marked KO before the deployment ended are seen
		// although it is no longer running.
		tick(6)
		_, err = s.FinishUnfinishedNodes(ctx, "d1", 1, "canceled")
		must(t, err, "FinishUnfinishedNodes")
		tick(7)
		must(t, s.SetDeploymentState(ctx, "d1", DeployCanceled, "canceled"), "canceled")
		want(changes(DeploymentChangeFilter{After: at(5), Deployment: "d1"}),
			"6 d1/n1 ko write", "6 d1/n2 ko write", "6 d1/n3 ko ", "6 d1/n4 ko ", "6 d1/n5 ko ", "7 d1/ canceled ")
		want(changes(DeploymentChangeFilter{After: at(7)}))
	})
}
