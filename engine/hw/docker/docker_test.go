package docker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gridflow/gridflow/agent/dockerapi/dockertest"
	"github.com/gridflow/gridflow/dsl/testbed"
	"github.com/gridflow/gridflow/engine/hw"
)

// newDriver drives two nodes on the test's Docker Engine, named uniquely so
// that concurrent runs do not see each other's containers.
func newDriver(t *testing.T, host string) (*Driver, string, string) {
	t.Helper()
	prefix := fmt.Sprintf("dk%d", time.Now().UnixNano()%1e9)
	c := &testbed.Cluster{UID: "boxes", Site: "lab", Driver: testbed.Driver{Kind: testbed.DriverDocker,
		Docker: &testbed.DockerConfig{Host: host}}}
	for _, n := range []string{prefix + "-1", prefix + "-2"} {
		c.Nodes = append(c.Nodes, &testbed.Node{UID: n, Site: "lab", Cluster: "boxes"})
	}
	d, err := New(c, Options{KillGrace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		for _, n := range c.Nodes {
			cs, _ := d.ListContainers(ctx, n.UID)
			for _, ct := range cs {
				d.DeleteContainer(ctx, n.UID, ct.ID)
			}
		}
		d.Close()
	})
	return d, c.Nodes[0].UID, c.Nodes[1].UID
}

func kind(t *testing.T, err error, want hw.Kind) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v: want kind %q (got %q)", err, want, hw.KindOf(err))
	}
}

func TestDockerDriver(t *testing.T) {
	host := dockertest.Host(t)
	image := dockertest.BusyboxImage(t, host)
	d, n1, n2 := newDriver(t, host)
	ctx := context.Background()

	info, err := d.Info(ctx, n1)
	if err != nil || info.CPUs < 1 || info.Memory.Total == 0 || info.Hostname == "" || !info.Containers {
		t.Fatalf("info: %v %+v", err, info)
	}

	spec := hw.ContainerSpec{ID: "web", Image: image, Hostname: "web-1", Reservation: "r1", Cmd: dockertest.Idle,
		Env: map[string]string{"WHO": "gridflow"}, Ports: map[string]int{"8080/tcp": 0}}
	c, err := d.CreateContainer(ctx, n1, spec)
	if err != nil || c.State != hw.ContainerRunning || c.Hostname != "web-1" || c.Env["WHO"] != "gridflow" || c.Ports["8080/tcp"] == 0 || c.Reservation != "r1" {
		t.Fatalf("create: %v %+v", err, c)
	}
	again, err := d.CreateContainer(ctx, n1, spec)
	if err != nil || !again.Created.Equal(c.Created) {
		t.Fatalf("retried create: %v %+v", err, again)
	}
	clash := spec
	clash.Image = "another:image"
	_, err = d.CreateContainer(ctx, n1, clash)
	kind(t, err, hw.Conflict)
	_, err = d.CreateContainer(ctx, n1, hw.ContainerSpec{ID: "x", Image: "gridflow-no-such-image:1"})
	kind(t, err, hw.NotFound)
	if !strings.Contains(err.Error(), "gridflow-no-such-image:1") {
		t.Fatalf("missing image error does not name it: %v", err)
	}
	_, err = d.CreateContainer(ctx, n1, hw.ContainerSpec{ID: "x", Image: image, HostNetwork: true, Ports: map[string]int{"80/tcp": 0}})
	kind(t, err, hw.Invalid)

	// Each node is a scope of its own on the shared engine.
	if cs, _ := d.ListContainers(ctx, n2); len(cs) != 0 {
		t.Fatalf("node 2 sees %+v", cs)
	}
	_, err = d.Container(ctx, n2, "web")
	kind(t, err, hw.NotFound)

	// Jobs: output, exit code, kill.
	j, err := d.Exec(ctx, n1, "web", hw.ProcessSpec{ID: "hi", Name: "sh", Args: []string{"-c", "echo hi $WHO $(hostname); exit 4"}})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for j.State == hw.ProcessRunning && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		j, _ = d.ContainerJob(ctx, n1, "web", "hi")
	}
	out, err := d.ContainerJobOutput(ctx, n1, "web", "hi")
	if j.State != hw.ProcessExited || *j.ExitCode != 4 || err != nil || string(out.Stdout) != "hi gridflow web-1\n" {
		t.Fatalf("job: %+v %v %q", j, err, out.Stdout)
	}
	long, err := d.Exec(ctx, n1, "web", hw.ProcessSpec{ID: "long", Name: "sleep", Args: []string{"300"}})
	if err != nil || long.State != hw.ProcessRunning {
		t.Fatalf("long: %v %+v", err, long)
	}
	ps, err := d.ContainerProcesses(ctx, n1, "web")
	found := false
	for _, p := range ps {
		found = found || p.Cmdline == "sleep 300" && p.RSS > 0
	}
	if err != nil || !found {
		t.Fatalf("processes: %v %+v", err, ps)
	}
	k, err := d.KillContainerJob(ctx, n1, "web", "long")
	if err != nil || k.State != hw.ProcessExited || k.Signal != "SIGTERM" {
		t.Fatalf("kill: %v %+v", err, k)
	}
	if js, err := d.ContainerJobs(ctx, n1, "web"); err != nil || len(js) != 2 {
		t.Fatalf("jobs: %v %+v", err, js)
	}
	_, err = d.ContainerJob(ctx, n1, "web", "ghost")
	kind(t, err, hw.NotFound)

	// Stop, start; a stopped container runs no job, and the jobs it ran
	// when it stopped are lost.
	if _, err := d.Exec(ctx, n1, "web", hw.ProcessSpec{ID: "cut", Name: "sleep", Args: []string{"300"}}); err != nil {
		t.Fatal(err)
	}
	if c, err = d.StopContainer(ctx, n1, "web"); err != nil || c.State != hw.ContainerExited {
		t.Fatalf("stop: %v %+v", err, c)
	}
	if j, err := d.ContainerJob(ctx, n1, "web", "cut"); err != nil || j.State != hw.ProcessLost || j.Ended == nil {
		t.Fatalf("job of the stopped container: %v %+v", err, j)
	}
	_, err = d.Exec(ctx, n1, "web", hw.ProcessSpec{ID: "late", Name: "true"})
	kind(t, err, hw.Conflict)
	_, err = d.ContainerProcesses(ctx, n1, "web")
	kind(t, err, hw.Conflict)
	if c, err = d.StartContainer(ctx, n1, "web"); err != nil || c.State != hw.ContainerRunning {
		t.Fatalf("start: %v %+v", err, c)
	}

	// The end of the reservation removes its containers, not the others.
	if _, err := d.CreateContainer(ctx, n1, hw.ContainerSpec{ID: "keep", Image: image, Cmd: dockertest.Idle, Reservation: "r2"}); err != nil {
		t.Fatal(err)
	}
	if n, err := d.StopReservation(ctx, n1, "r1"); err != nil || n != 1 {
		t.Fatalf("stop reservation: %d %v", n, err)
	}
	if cs, _ := d.ListContainers(ctx, n1); len(cs) != 1 || cs[0].ID != "keep" {
		t.Fatalf("after the reservation: %+v", cs)
	}
	if err := d.DeleteContainer(ctx, n1, "keep"); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteContainer(ctx, n1, "keep"); err != nil {
		t.Fatalf("delete again: %v", err)
	}
	_, err = d.StartContainer(ctx, n1, "keep")
	kind(t, err, hw.NotFound)

	// What a Docker Engine cannot do is said so.
	_, err = d.Start(ctx, n1, hw.ProcessSpec{ID: "p", Name: "true"})
	kind(t, err, hw.Unsupported)
	_, err = d.Stat(ctx, n1, "a", "")
	kind(t, err, hw.Unsupported)
}

func TestUnreachableEngine(t *testing.T) {
	d, n1, _ := newDriver(t, "tcp://127.0.0.1:1")
	_, err := d.Info(context.Background(), n1)
	kind(t, err, hw.Unavailable)
	if !hw.Retryable(err) {
		t.Fatalf("%v is not retryable", err)
	}
	_, err = d.Info(context.Background(), "nowhere")
	kind(t, err, hw.NotFound)
}
