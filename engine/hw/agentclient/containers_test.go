package agentclient

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gridflow/gridflow/agent"
	"github.com/gridflow/gridflow/agent/dockerapi/dockertest"
	"github.com/gridflow/gridflow/engine/hw"
)

// TestContainerJobsThroughAgent drives a real agent with the real Docker
// Engine: a container, a job with its output and exit code, a kill, the
// processes, and the end of the reservation removing the container.
func TestContainerJobsThroughAgent(t *testing.T) {
	host := dockertest.Host(t)
	image := dockertest.BusyboxImage(t, host)
	a, err := agent.New(agent.Config{DataDir: t.TempDir(), Token: token, DockerHost: host, KillGrace: time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	t.Cleanup(func() { srv.Close(); a.Close() })
	c := newClient(t, map[string]string{"n1": strings.TrimPrefix(srv.URL, "http://")}, nil)
	ctx := context.Background()
	t.Cleanup(func() { c.DeleteContainer(ctx, "n1", "box") })

	ct, err := c.CreateContainer(ctx, "n1", hw.ContainerSpec{ID: "box", Image: image, Cmd: dockertest.Idle, Hostname: "box-1",
		Env: map[string]string{"A": "b"}, Reservation: "r1"})
	if err != nil || ct.State != hw.ContainerRunning || ct.Hostname != "box-1" || ct.Env["A"] != "b" {
		t.Fatalf("create: %v %+v", err, ct)
	}
	_, err = c.CreateContainer(ctx, "n1", hw.ContainerSpec{ID: "x", Image: "gridflow-no-such-image:1"})
	if !errors.Is(err, hw.NotFound) {
		t.Fatalf("missing image: %v", err)
	}
	j, err := c.Exec(ctx, "n1", "box", hw.ProcessSpec{ID: "j1", Name: "sh", Args: []string{"-c", "echo $A; exit 2"}})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for j.State == hw.ProcessRunning && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		j, _ = c.ContainerJob(ctx, "n1", "box", "j1")
	}
	out, err := c.ContainerJobOutput(ctx, "n1", "box", "j1")
	if j.State != hw.ProcessExited || *j.ExitCode != 2 || err != nil || string(out.Stdout) != "b\n" {
		t.Fatalf("job %+v %v %q", j, err, out.Stdout)
	}
	if _, err := c.Exec(ctx, "n1", "box", hw.ProcessSpec{ID: "j2", Name: "sleep", Args: []string{"300"}}); err != nil {
		t.Fatal(err)
	}
	ps, err := c.ContainerProcesses(ctx, "n1", "box")
	if err != nil || len(ps) < 2 {
		t.Fatalf("processes %v %+v", err, ps)
	}
	k, err := c.KillContainerJob(ctx, "n1", "box", "j2")
	if err != nil || k.Signal != "SIGTERM" {
		t.Fatalf("kill %v %+v", err, k)
	}
	if js, err := c.ContainerJobs(ctx, "n1", "box"); err != nil || len(js) != 2 {
		t.Fatalf("jobs %v %+v", err, js)
	}
	_, err = c.ContainerJob(ctx, "n1", "box", "ghost")
	if !errors.Is(err, hw.NotFound) {
		t.Fatalf("unknown job: %v", err)
	}
	if n, err := c.StopReservation(ctx, "n1", "r1"); err != nil || n != 1 {
		t.Fatalf("stop reservation %d %v", n, err)
	}
	if _, err := c.Container(ctx, "n1", "box"); !errors.Is(err, hw.NotFound) {
		t.Fatalf("container of the ended reservation: %v", err)
	}
}

func TestContainersWithoutRuntime(t *testing.T) {
	ra := startAgent(t, "127.0.0.1:0", t.TempDir())
	c := newClient(t, map[string]string{"n1": ra.addr}, nil)
	_, err := c.Exec(context.Background(), "n1", "box", hw.ProcessSpec{ID: "j", Name: "true"})
	if !errors.Is(err, hw.Unsupported) || hw.Retryable(err) {
		t.Fatalf("%v", err)
	}
}
