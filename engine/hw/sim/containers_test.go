package sim

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gridflow/gridflow/dsl/testbed"
	"github.com/gridflow/gridflow/engine/hw"
)

func TestContainerJobs(t *testing.T) {
	d := newDriver(t, testbed.SimConfig{}, "n1")
	ctx := context.Background()
	if _, err := d.CreateContainer(ctx, "n1", hw.ContainerSpec{ID: "box", Image: "busybox", Hostname: "box-1", Reservation: "r1",
		Env: map[string]string{"A": "1"}}); err != nil {
		t.Fatal(err)
	}
	hello := hw.ProcessSpec{ID: "hello", Name: "sh", Args: []string{"-c", "echo hi; hostname; exit 3"}}
	j, err := d.Exec(ctx, "n1", "box", hello)
	if err != nil || j.State != hw.ProcessExited || *j.ExitCode != 3 {
		t.Fatalf("exec: %v %+v", err, j)
	}
	out, _ := d.ContainerJobOutput(ctx, "n1", "box", "hello")
	if string(out.Stdout) != "hi\nbox-1\n" {
		t.Fatalf("output %q", out.Stdout)
	}
	if again, err := d.Exec(ctx, "n1", "box", hello); err != nil || again.PID != j.PID {
		t.Fatalf("retried exec: %v %+v", err, again)
	}
	other := hello
	other.Args = []string{"-c", "true"}
	_, err = d.Exec(ctx, "n1", "box", other)
	kind(t, err, hw.Conflict, false)

	// A program the simulator does not know fails the job, as a missing one would.
	j, err = d.Exec(ctx, "n1", "box", hw.ProcessSpec{ID: "nope", Name: "no-such-program"})
	out, _ = d.ContainerJobOutput(ctx, "n1", "box", "nope")
	if err != nil || *j.ExitCode != 127 || !strings.Contains(string(out.Stderr), "no-such-program") {
		t.Fatalf("missing program: %v %+v %q", err, j, out.Stderr)
	}

	long, _ := d.Exec(ctx, "n1", "box", hw.ProcessSpec{ID: "long", Name: "sleep", Args: []string{"60"}})
	ps, err := d.ContainerProcesses(ctx, "n1", "box")
	if err != nil || len(ps) != 2 || ps[1].PID != long.PID || ps[1].RSS == 0 || ps[1].Cmdline != "sleep 60" {
		t.Fatalf("processes: %v %+v", err, ps)
	}
	k, err := d.KillContainerJob(ctx, "n1", "box", "long")
	if err != nil || k.State != hw.ProcessExited || k.Signal != "SIGTERM" {
		t.Fatalf("kill: %v %+v", err, k)
	}
	if k2, err := d.KillContainerJob(ctx, "n1", "box", "long"); err != nil || !k2.Ended.Equal(*k.Ended) {
		t.Fatalf("kill again: %v %+v", err, k2)
	}
	_, err = d.KillContainerJob(ctx, "n1", "box", "ghost")
	kind(t, err, hw.NotFound, false)
	_, err = d.ContainerJobs(ctx, "n1", "ghost")
	kind(t, err, hw.NotFound, false)
	if js, _ := d.ContainerJobs(ctx, "n1", "box"); len(js) != 3 || js[0].ID != "hello" {
		t.Fatalf("jobs: %+v", js)
	}

	// Stopping the container ends its jobs; a stopped one runs none.
	d.Exec(ctx, "n1", "box", hw.ProcessSpec{ID: "long2", Name: "sleep", Args: []string{"60"}})
	d.StopContainer(ctx, "n1", "box")
	if j, _ := d.ContainerJob(ctx, "n1", "box", "long2"); j.State != hw.ProcessExited {
		t.Fatalf("job of a stopped container: %+v", j)
	}
	_, err = d.Exec(ctx, "n1", "box", hw.ProcessSpec{ID: "late", Name: "true"})
	kind(t, err, hw.Conflict, false)
	_, err = d.ContainerProcesses(ctx, "n1", "box")
	kind(t, err, hw.Conflict, false)

	// The end of the reservation removes the container.
	if n, err := d.StopReservation(ctx, "n1", "r1"); err != nil || n != 1 {
		t.Fatalf("stop reservation: %d %v", n, err)
	}
	_, err = d.Container(ctx, "n1", "box")
	kind(t, err, hw.NotFound, false)
}

func TestContainerHostNetwork(t *testing.T) {
	d := newDriver(t, testbed.SimConfig{}, "n1")
	ctx := context.Background()
	_, err := d.CreateContainer(ctx, "n1", hw.ContainerSpec{ID: "h", Image: "x", HostNetwork: true, Ports: map[string]int{"80/tcp": 0}})
	kind(t, err, hw.Invalid, false)
	c, err := d.CreateContainer(ctx, "n1", hw.ContainerSpec{ID: "h", Image: "x", HostNetwork: true})
	if err != nil || !c.HostNetwork || c.Hostname != "n1" || c.Started == nil || time.Since(*c.Started) > time.Minute {
		t.Fatalf("%v %+v", err, c)
	}
}
