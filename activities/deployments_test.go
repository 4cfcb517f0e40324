package activities

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/gridflow/gridflow/dsl/testbed"
	"github.com/gridflow/gridflow/engine/deploy"
	"github.com/gridflow/gridflow/engine/hw"
	"github.com/gridflow/gridflow/engine/hw/sim"
	"github.com/gridflow/gridflow/engine/store"
)

const deployTestbed = `
site "s" {
  cluster "a" {
    driver "sim" {
      boot_time    = "0s"
      deploy_time  = "0s"
      failure_rate = 0
      seed         = 1
    }
    nodes {
      count = 2
      name  = "a-%d"
      properties {
        cores  = 4
        memory = "8GiB"
      }
    }
  }
  cluster "f" {
    driver "sim" {
      boot_time    = "0s"
      deploy_time  = "0s"
      failure_rate = 1
      seed         = 1
    }
    nodes {
      count = 1
      name  = "f-%d"
      properties {
        cores  = 4
        memory = "8GiB"
      }
    }
  }
}
`

// deployFixture is a store with a running reservation r1 of a-1, a-2 and
// f-1, a deployment d1 of them, and the sim drivers of deployTestbed.
func deployFixture(t *testing.T) (*Activities, *store.Store) {
	t.Helper()
	ctx := context.Background()
	st := newStore(t)
	insert(t, st, "r1", "a-1", "a-2", "f-1")
	if _, err := st.SetReservationState(ctx, "r1", store.ResRunning, ""); err != nil {
		t.Fatal(err)
	}
	d := store.Deployment{ID: "d1", Site: "s", Owner: "alice", ReservationID: "r1", Environment: "debian12-min@2024.1", State: store.DeployProcessing}
	if _, err := st.InsertDeployment(ctx, d, []string{"a-1", "a-2", "f-1"}, false); err != nil {
		t.Fatal(err)
	}
	tb, diags := testbed.Parse([]byte(deployTestbed), "deploy.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	drivers, err := hw.ForTestbed(tb, hw.Options{SimDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { drivers.Close() })
	return &Activities{Store: st, Drivers: func(context.Context) (*hw.Drivers, error) { return drivers, nil }}, st
}

func publicEnv(t *testing.T) hw.EnvSpec {
	pub, ok := hw.LookupPublicEnvironment("debian12-min@2024.1")
	if !ok {
		t.Fatal("no public debian12-min@2024.1")
	}
	return hw.EnvSpec{Name: pub.Name, URL: pub.URL, Checksum: pub.Checksum}
}

func deployNode(t *testing.T, a *Activities, p DeployNodeParams) NodeResult {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	v, err := env.ExecuteActivity(a.DeployNode, p)
	if err != nil {
		t.Fatalf("DeployNode(%s): %v", p.Node, err)
	}
	var r NodeResult
	if err := v.Get(&r); err != nil {
		t.Fatal(err)
	}
	return r
}

func nodeOf(t *testing.T, st *store.Store, node string) store.DeploymentNode {
	t.Helper()
	d, err := st.GetDeployment(context.Background(), "d1")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range d.Nodes {
		if n.Node == node {
			return n
		}
	}
	t.Fatalf("no node %s in d1", node)
	return store.DeploymentNode{}
}

func TestDeployNodeOnSimulatedNodes(t *testing.T) {
	a, st := deployFixture(t)
	env := publicEnv(t)
	base := DeployNodeParams{Deployment: "d1", Run: 1, Reservation: "r1", Env: env, Timeouts: deploy.DefaultTimeouts, Retries: 2}

	// A healthy node goes through every step and runs the environment.
	p := base
	p.Node = "a-1"
	r := deployNode(t, a, p)
	if r.State != store.NodeOK || r.Step != store.StepCheck || len(r.Timings) != len(store.DeploySteps) {
		t.Fatalf("a-1: %+v", r)
	}
	n := nodeOf(t, st, "a-1")
	if n.State != store.NodeOK || n.Attempts != 1 || n.Reason != "" || len(n.Timings) != 5 {
		t.Fatalf("a-1 in the store: %+v", n)
	}
	drv, _ := a.Drivers(context.Background())
	d, _ := drv.For("a-1")
	info, err := d.Info(context.Background(), "a-1")
	if err != nil || info.Environment == nil || info.Environment.Name != env.Name {
		t.Fatalf("a-1 runs %+v (%v)", info.Environment, err)
	}

	// A node that fails mid-deploy every time is KO at write after its
	// retries, with the driver's reason.
	p.Node = "f-1"
	r = deployNode(t, a, p)
	if r.State != store.NodeKO || r.Step != store.StepWrite || !strings.Contains(r.Reason, "injected fault") || !strings.Contains(r.Reason, "after 3 tries") {
		t.Fatalf("f-1: %+v", r)
	}
	if n := nodeOf(t, st, "f-1"); n.State != store.NodeKO || n.Step != store.StepWrite || n.Attempts != 3 {
		t.Fatalf("f-1 in the store: %+v", n)
	}

	// A wrong checksum is caught, with both checksums in the reason, and
	// not retried.
	p.Node = "a-2"
	p.Env.Checksum = "sha256:" + strings.Repeat("0", 64)
	r = deployNode(t, a, p)
	if r.State != store.NodeKO || r.Step != store.StepVerify || !strings.Contains(r.Reason, env.Checksum) || !strings.Contains(r.Reason, p.Env.Checksum) {
		t.Fatalf("a-2 with a wrong checksum: %+v", r)
	}
	if n := nodeOf(t, st, "a-2"); n.Attempts != 1 {
		t.Fatalf("a wrong checksum was retried: %+v", n)
	}
}

func TestDeployNodeRefusesAnEndedReservation(t *testing.T) {
	a, st := deployFixture(t)
	if _, err := st.SetReservationState(context.Background(), "r1", store.ResTerminated, "walltime reached"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := deployNode(t, a, DeployNodeParams{Deployment: "d1", Run: 1, Reservation: "r1", Node: "a-1", Env: publicEnv(t), Retries: 2})
	if r.State != store.NodeKO || r.Step != store.StepPrepare || !strings.Contains(r.Reason, "terminated") {
		t.Fatalf("a-1: %+v", r)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("an ended reservation was retried")
	}
}

func simDriver(t *testing.T, a *Activities, node string) *sim.Driver {
	t.Helper()
	drv, err := a.Drivers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	d, err := drv.For(node)
	if err != nil {
		t.Fatal(err)
	}
	return d.(*sim.Driver)
}

// TestDeployNodeFallsBackOnAPowerCycle: a node whose boot hangs does not
// answer a soft reboot; kadeploy's last resort, a hard power cycle, brings
// it back before it is KO at boot, and its timings say what it took.
func TestDeployNodeFallsBackOnAPowerCycle(t *testing.T) {
	a, st := deployFixture(t)
	ctx := context.Background()
	base := DeployNodeParams{Deployment: "d1", Run: 1, Reservation: "r1", Env: publicEnv(t), Timeouts: deploy.DefaultTimeouts, Retries: 1}

	// A run started before the fallback existed only reboots softly: KO
	// at boot.
	p := base
	p.Node = "a-1"
	if err := simDriver(t, a, "a-1").HangBoots("a-1", 1); err != nil {
		t.Fatal(err)
	}
	r := deployNode(t, a, p)
	if r.State != store.NodeKO || r.Step != store.StepBoot || !strings.Contains(r.Reason, "does not answer") ||
		!strings.Contains(r.Reason, "the soft reboot failed too") || r.Timings[store.FallbackPowerCycle] != 0 {
		t.Fatalf("a-1 without the power cycle: %+v", r)
	}
	if _, ok := r.Timings[store.FallbackReboot]; !ok {
		t.Fatalf("a-1's soft reboot is not in its timings: %+v", r.Timings)
	}
	if n := nodeOf(t, st, "a-1"); n.Fallback() != store.FallbackReboot {
		t.Fatalf("a-1 in the store: fallback %q, %+v", n.Fallback(), n)
	}
	// Only a power cycle brings it back.
	info, err := simDriver(t, a, "a-1").PowerCycle(ctx, "a-1")
	if err != nil || info.Generation < 3 {
		t.Fatalf("power cycle of a-1: %+v %v", info, err)
	}

	// With the fallback, the hung boot is power-cycled and the node is OK.
	p = base
	p.Node, p.PowerCycle = "a-2", true
	if err := simDriver(t, a, "a-2").HangBoots("a-2", 1); err != nil {
		t.Fatal(err)
	}
	r = deployNode(t, a, p)
	if r.State != store.NodeOK || r.Step != store.StepCheck {
		t.Fatalf("a-2 with the power cycle: %+v", r)
	}
	if _, ok := r.Timings[store.FallbackPowerCycle]; !ok {
		t.Fatalf("a-2's power cycle is not in its timings: %+v", r.Timings)
	}
	if n := nodeOf(t, st, "a-2"); n.State != store.NodeOK || n.Fallback() != store.FallbackPowerCycle || n.Reason != "" {
		t.Fatalf("a-2 in the store: fallback %q, %+v", n.Fallback(), n)
	}

	// A node that hangs again after its power cycle is KO at boot, saying so.
	p = base
	p.Node, p.PowerCycle = "a-1", true
	pub, _ := hw.LookupPublicEnvironment("debian12-base@2024.1")
	p.Env = hw.EnvSpec{Name: pub.Name, URL: pub.URL, Checksum: pub.Checksum}
	if err := simDriver(t, a, "a-1").HangBoots("a-1", 2); err != nil {
		t.Fatal(err)
	}
	r = deployNode(t, a, p)
	if r.State != store.NodeKO || r.Step != store.StepBoot || !strings.Contains(r.Reason, "hard power cycle") {
		t.Fatalf("a-1 hung twice: %+v", r)
	}
	if n := nodeOf(t, st, "a-1"); n.Fallback() != store.FallbackPowerCycle {
		t.Fatalf("a-1 in the store: fallback %q", n.Fallback())
	}
}

// BenchmarkDeployNode measures one node's deployment by the activity (its
// five steps, the store writes that record them, on SQLite, run through
// the SDK's test activity environment) beside the sim driver's Install
// alone on the same node, in the same run; timings are zero, so what is
// left is the engine's cost per node.
func BenchmarkDeployNode(b *testing.B) {
	t := &testing.T{}
	a, _ := deployFixture(t)
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	drv := simDriver(t, a, "a-2")
	specs := make([]hw.EnvSpec, 2)
	for i, name := range []string{"debian12-min@2024.1", "debian12-base@2024.1"} {
		pub, _ := hw.LookupPublicEnvironment(name)
		specs[i] = hw.EnvSpec{Name: pub.Name, URL: pub.URL, Checksum: pub.Checksum}
	}
	ctx := context.Background()
	var activityDur, installDur time.Duration
	i := 0
	for b.Loop() {
		// Each run writes another image than the last, on both nodes.
		p := DeployNodeParams{Deployment: "d1", Run: 1, Reservation: "r1", Node: "a-1", Env: specs[i%2], Timeouts: deploy.DefaultTimeouts, Retries: 2, PowerCycle: true}
		t0 := time.Now()
		v, err := env.ExecuteActivity(a.DeployNode, p)
		if err != nil {
			b.Fatal(err)
		}
		var r NodeResult
		if err := v.Get(&r); err != nil || r.State != store.NodeOK {
			b.Fatalf("%+v %v", r, err)
		}
		t1 := time.Now()
		if _, err := drv.Install(ctx, "a-2", specs[i%2]); err != nil {
			b.Fatal(err)
		}
		activityDur += t1.Sub(t0)
		installDur += time.Since(t1)
		i++
	}
	b.ReportMetric(float64(activityDur.Microseconds())/float64(i), "activity-µs/node")
	b.ReportMetric(float64(installDur.Microseconds())/float64(i), "install-µs/node")
	b.ReportMetric(activityDur.Seconds()/installDur.Seconds(), "ratio")
}
