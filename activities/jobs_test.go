package activities

import (
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/gridflow/gridflow/dsl/testbed"
	"github.com/gridflow/gridflow/engine/hw"
	_ "github.com/gridflow/gridflow/engine/hw/sim" // the "sim" driver
	"github.com/gridflow/gridflow/engine/jobs"
	"github.com/gridflow/gridflow/engine/store"
)

const jobTestbed = `
site "s" {
  cluster "c" {
    driver "sim" {
      boot_time = "0s"
    }
    nodes {
      count = 2
      name  = "c-%d"
      properties {
        cores   = 4
        memory  = "8GiB"
        disk    = "10GB"
        network = "1Gbps"
      }
    }
  }
}
site "t" {
  cluster "d" {
    driver "sim" {}
    nodes {
      count = 1
      name  = "d-%d"
      properties {
        cores   = 4
        memory  = "8GiB"
        disk    = "10GB"
        network = "1Gbps"
      }
    }
  }
}
`

func jobActivities(t *testing.T) (*JobActivities, *testbed.Testbed, *hw.Drivers) {
	t.Helper()
	tb, diags := testbed.NewParser().Parse([]byte(jobTestbed), "t.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	drivers, err := hw.ForTestbed(tb, hw.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := newStore(t)
	a := &JobActivities{Store: st, Jobs: &jobs.Service{Store: st, Sandboxes: &jobs.Sandboxes{Dir: t.TempDir(), Limit: 1 << 20, Store: st}},
		Drivers: func(context.Context) (*hw.Drivers, error) { return drivers, nil }, Poll: 10 * time.Millisecond}
	return a, tb, drivers
}

// freeSites sees the nodes active reservations hold and the nodes down.
func TestJobFreeSites(t *testing.T) {
	ctx := context.Background()
	a, tb, _ := jobActivities(t)
	req := jobs.Requirements{Sites: []string{"t", "s"}, Cores: 2}
	free, alive, err := a.freeSites(ctx, tb, req, time.Hour)
	if err != nil || !slices.Equal(free, []string{"t", "s"}) || !slices.Equal(alive, free) {
		t.Fatalf("free %v alive %v %v", free, alive, err)
	}
	insert(t, a.Store, "r1", "c-1") // site "s" in the helper
	if err := a.Store.SetNodeState(ctx, "c-2", "down", "agent unreachable"); err != nil {
		t.Fatal(err)
	}
	if err := a.Store.SetNodeState(ctx, "d-1", "down", "agent unreachable"); err != nil {
		t.Fatal(err)
	}
	free, alive, _ = a.freeSites(ctx, tb, req, time.Hour)
	if len(free) != 0 || !slices.Equal(alive, []string{"s"}) {
		t.Fatalf("c-1 held, c-2 and d-1 down: free %v alive %v", free, alive)
	}
	// A reservation that ended holds nothing.
	if _, err := a.Store.SetReservationState(ctx, "r1", store.ResCanceled, "test"); err != nil {
		t.Fatal(err)
	}
	if free, _, _ = a.freeSites(ctx, tb, req, time.Hour); !slices.Equal(free, []string{"s"}) {
		t.Fatalf("after r1 ended: free %v", free)
	}
	// Nodes too small for the job do not count.
	if free, alive, _ = a.freeSites(ctx, tb, jobs.Requirements{Sites: []string{"s"}, Cores: 8}, time.Hour); len(free)+len(alive) != 0 {
		t.Fatalf("8 cores: free %v alive %v", free, alive)
	}
}

// JobRun stages the input sandbox on the node and runs the executable;
// JobCollect brings back stdout, stderr and the declared files, and says
// which are missing.
func TestJobRunAndCollectOnSimNode(t *testing.T) {
	ctx := context.Background()
	a, _, drivers := jobActivities(t)
	w, err := a.Jobs.Sandboxes.Create()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Add("in.txt", 5, strings.NewReader("input")); err != nil {
		t.Fatal(err)
	}
	in, _, err := w.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := jobs.Manifest{Executable: "/bin/echo", Arguments: "hello 'sim node'", InputSandbox: []string{"in.txt"}, OutputSandbox: []string{"out.dat", "none.dat"}, CPUTime: 60}
	raw, _ := json.Marshal(m)
	if _, err := a.Store.InsertJob(ctx, store.Job{ID: "j1", Owner: "alice", Manifest: raw, InputSandbox: in}); err != nil {
		t.Fatal(err)
	}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	pl := JobPlacement{Site: "s", Node: "c-1", Reservation: "r1", Walltime: time.Minute, MaxReschedules: 3}
	val, err := env.ExecuteActivity(a.JobRun, "j1", 0, pl)
	if err != nil {
		t.Fatal(err)
	}
	var run JobRunResult
	if err := val.Get(&run); err != nil || run.ExitCode != 0 || run.Lost || run.StartFailed != "" {
		t.Fatalf("run %+v %v", run, err)
	}
	d, _ := drivers.For("c-1")
	staged, err := d.Get(ctx, "c-1", "jobs/j1/0/in.txt", "")
	if err != nil {
		t.Fatalf("the input sandbox was not staged: %v", err)
	}
	if b, _ := io.ReadAll(staged); string(b) != "input" {
		t.Fatalf("staged %q", b)
	}
	staged.Close()
	// The job "wrote" one of its two declared files.
	if _, err := d.Put(ctx, "c-1", "jobs/j1/0/out.dat", strings.NewReader("result"), hw.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	val, err = env.ExecuteActivity(a.JobCollect, "j1", 0, pl)
	if err != nil {
		t.Fatal(err)
	}
	var col JobCollected
	if err := val.Get(&col); err != nil || !slices.Equal(col.Missing, []string{"none.dat"}) {
		t.Fatalf("collected %+v %v", col, err)
	}
	got := map[string]string{}
	if err := a.Jobs.Sandboxes.Each(col.SHA256, func(name string, _ int64, r io.Reader) error {
		b, err := io.ReadAll(r)
		got[name] = string(b)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got["std.out"] != "hello sim node\n" || got["std.err"] != "" || got["out.dat"] != "result" {
		t.Fatalf("output sandbox %q", got)
	}
	j, _ := a.Store.GetJob(ctx, "j1")
	if j.OutputSandbox != col.SHA256 || j.State != store.JobCompleted {
		t.Fatalf("job after collect: %+v", j)
	}
}
