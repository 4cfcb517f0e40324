package agent

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gridflow/gridflow/agent/dockerapi/dockertest"
)

// dockerAgent is a test agent with the Docker Engine, and the test image
// built; it skips the test, saying why, without them.
func dockerAgent(t *testing.T) (*tagent, string) {
	t.Helper()
	host := dockertest.Host(t)
	image := dockertest.BusyboxImage(t, host)
	ta := newTestAgent(t, func(c *Config) { c.DockerHost = host; c.KillGrace = time.Second })
	t.Cleanup(func() {
		ta.a.docker.removeAll(func(Container) bool { return true })
	})
	return ta, image
}

func TestContainers(t *testing.T) {
	ta, image := dockerAgent(t)
	var info Info
	ta.call(http.MethodGet, "/v1/info", nil, &info)
	if !info.Containers {
		t.Fatal("info does not report the container runtime")
	}

	req := ContainerRequest{
		ID: "web", Image: image, Hostname: "web-1", Reservation: "r1",
		// httpd runs in the background and the shell, PID 1, exits on
		// SIGTERM, so that a stop does not wait for Docker's SIGKILL.
		Cmd: []string{"/bin/sh", "-c", `mkdir -p /www && echo "hello $WHO from $(hostname)" > /www/index.html && httpd -p 8080 -h /www &&
			trap "exit 0" TERM && while :; do sleep 1 & wait; done`},
		Env:   map[string]string{"WHO": "gridflow"},
		Ports: map[string]int{"8080/tcp": 0},
	}
	var c Container
	if st := ta.call(http.MethodPost, "/v1/containers", req, &c); st != http.StatusCreated {
		t.Fatalf("create: %d", st)
	}
	if c.ID != "web" || c.State != "running" || c.Ports["8080/tcp"] == 0 || c.Reservation != "r1" || c.DockerID == "" ||
		c.Hostname != "web-1" || c.Env["WHO"] != "gridflow" || len(c.Env) != 1 {
		t.Fatalf("created: %+v", c)
	}
	// The container serves on its mapped port.
	var body string
	eventually(t, 10*time.Second, "httpd in the container", func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/index.html", c.Ports["8080/tcp"]))
		if err != nil {
			return false
		}
		b := readAll(t, resp)
		body = string(b)
		return resp.StatusCode == http.StatusOK
	})
	if body != "hello gridflow from web-1\n" {
		t.Fatalf("container answered %q", body)
	}

	// A retried create returns the same container.
	var again Container
	if st := ta.call(http.MethodPost, "/v1/containers", req, &again); st != http.StatusOK || again.DockerID != c.DockerID {
		t.Fatalf("retried create: %d %+v", st, again)
	}
	clash := req
	clash.Image = "another:image"
	if st := ta.call(http.MethodPost, "/v1/containers", clash, nil); st != http.StatusConflict {
		t.Fatalf("same id, other image: %d", st)
	}
	resp := ta.do(http.MethodPost, "/v1/containers", strings.NewReader(`{"id":"other","image":"gridflow-no-such-image:1"}`))
	if p := problem(t, resp); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(p.Detail, "gridflow-no-such-image:1") {
		t.Fatalf("missing image: %d %+v", resp.StatusCode, p)
	}
	if st := ta.call(http.MethodPost, "/v1/containers", ContainerRequest{ID: "bad", Image: image, Ports: map[string]int{"http": 80}}, nil); st != http.StatusBadRequest {
		t.Fatalf("bad port: %d", st)
	}

	var list []Container
	ta.call(http.MethodGet, "/v1/containers", nil, &list)
	if len(list) != 1 || list[0].ID != "web" {
		t.Fatalf("list: %+v", list)
	}
	var procs []ContainerProcess
	if st := ta.call(http.MethodGet, "/v1/containers/web/processes", nil, &procs); st != http.StatusOK || len(procs) < 2 {
		t.Fatalf("processes: %d %+v", st, procs)
	}
	httpd := false
	for _, p := range procs {
		httpd = httpd || strings.HasPrefix(p.Cmdline, "httpd") && p.RSS > 0 && p.PID > 0
	}
	if !httpd {
		t.Fatalf("no httpd with its memory among %+v", procs)
	}
	if st := ta.call(http.MethodPost, "/v1/containers/web/stop", nil, &c); st != http.StatusOK || c.State != "exited" {
		t.Fatalf("stop: %d %+v", st, c)
	}
	if st := ta.call(http.MethodGet, "/v1/containers/web/processes", nil, nil); st != http.StatusConflict {
		t.Fatalf("processes of a stopped container: %d", st)
	}
	var restarted Container
	if st := ta.call(http.MethodPost, "/v1/containers/web/start", nil, &restarted); st != http.StatusOK || restarted.State != "running" || restarted.Finished != nil {
		t.Fatalf("start: %d %+v", st, restarted)
	}
	// A reboot stops the containers of the node.
	ta.call(http.MethodPost, "/v1/reboot", nil, nil)
	ta.call(http.MethodGet, "/v1/containers/web", nil, &c)
	if c.State != "exited" {
		t.Fatalf("after reboot: %+v", c)
	}
	ta.call(http.MethodPost, "/v1/containers/web/start", nil, &c)
	if st := ta.call(http.MethodDelete, "/v1/containers/web", nil, nil); st != http.StatusNoContent {
		t.Fatalf("delete: %d", st)
	}
	if st := ta.call(http.MethodGet, "/v1/containers/web", nil, nil); st != http.StatusNotFound {
		t.Fatalf("get deleted: %d", st)
	}
	if st := ta.call(http.MethodDelete, "/v1/containers/web", nil, nil); st != http.StatusNotFound {
		t.Fatalf("delete again: %d", st)
	}
}

// TestContainerJobs runs commands inside a container: output and exit code,
// idempotent start, kill, a command that does not exist, and the end of the
// reservation removing the container.
func TestContainerJobs(t *testing.T) {
	ta, image := dockerAgent(t)
	var c Container
	if st := ta.call(http.MethodPost, "/v1/containers", ContainerRequest{ID: "box", Image: image, Reservation: "r7",
		Cmd: []string{"/bin/sh", "-c", `trap "exit 0" TERM; while :; do sleep 1 & wait; done`}}, &c); st != http.StatusCreated {
		t.Fatalf("create: %d", st)
	}
	var j Job
	req := JobRequest{ID: "hello", Name: "/bin/sh", Args: []string{"-c", `echo "hi $WHO in $(pwd)"; echo oops >&2; exit 3`},
		Env: map[string]string{"WHO": "there"}, Pwd: "/bin"}
	if st := ta.call(http.MethodPost, "/v1/containers/box/jobs", req, &j); st != http.StatusCreated || j.ID != "hello" || j.Container != "box" {
		t.Fatalf("start job: %d %+v", st, j)
	}
	eventually(t, 10*time.Second, "the job to end", func() bool {
		ta.call(http.MethodGet, "/v1/containers/box/jobs/hello", nil, &j)
		return j.State == "exited"
	})
	if j.ExitCode == nil || *j.ExitCode != 3 || j.Ended == nil || j.PID == 0 {
		t.Fatalf("ended job: %+v", j)
	}
	var out Output
	ta.call(http.MethodGet, "/v1/containers/box/jobs/hello/output", nil, &out)
	if out.Stdout != "hi there in /bin\n" || out.Stderr != "oops\n" || out.StdoutSize != int64(len(out.Stdout)) {
		t.Fatalf("output: %+v", out)
	}
	// The same id and command: the same job, not a second run.
	var again Job
	if st := ta.call(http.MethodPost, "/v1/containers/box/jobs", req, &again); st != http.StatusOK || again.State != "exited" || !again.Started.Equal(j.Started) {
		t.Fatalf("retried start: %d %+v", st, again)
	}
	other := req
	other.Args = []string{"-c", "true"}
	if st := ta.call(http.MethodPost, "/v1/containers/box/jobs", other, nil); st != http.StatusConflict {
		t.Fatalf("same id, other command: %d", st)
	}

	// A command that does not exist fails with the shell's reason.
	ta.call(http.MethodPost, "/v1/containers/box/jobs", JobRequest{ID: "nope", Name: "no-such-program"}, &j)
	eventually(t, 10*time.Second, "the missing command to fail", func() bool {
		ta.call(http.MethodGet, "/v1/containers/box/jobs/nope", nil, &j)
		return j.State == "exited"
	})
	ta.call(http.MethodGet, "/v1/containers/box/jobs/nope/output", nil, &out)
	if *j.ExitCode != 127 || !strings.Contains(out.Stderr, "no-such-program") || !strings.Contains(out.Stderr, "not found") {
		t.Fatalf("missing command: %+v %+v", j, out)
	}

	// A long job and its child are killed; killing again is harmless.
	ta.call(http.MethodPost, "/v1/containers/box/jobs", JobRequest{ID: "long", Name: "sh", Args: []string{"-c", "sleep 300; echo never"}}, &j)
	if j.State != "running" || j.PID == 0 {
		t.Fatalf("long job: %+v", j)
	}
	var procs []ContainerProcess
	ta.call(http.MethodGet, "/v1/containers/box/processes", nil, &procs)
	if !hasCmd(procs, "sleep 300") {
		t.Fatalf("the job's sleep is not among the processes: %+v", procs)
	}
	start := time.Now()
	if st := ta.call(http.MethodDelete, "/v1/containers/box/jobs/long", nil, &j); st != http.StatusOK || j.State != "exited" || j.Signal != "SIGTERM" || *j.ExitCode != -1 {
		t.Fatalf("kill: %d %+v", st, j)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("kill took %s", d)
	}
	eventually(t, 5*time.Second, "the job's sleep to end", func() bool {
		ta.call(http.MethodGet, "/v1/containers/box/processes", nil, &procs)
		return !hasCmd(procs, "sleep 300")
	})
	if st := ta.call(http.MethodDelete, "/v1/containers/box/jobs/long", nil, &j); st != http.StatusOK || j.State != "exited" {
		t.Fatalf("kill again: %d %+v", st, j)
	}
	var jobs []Job
	ta.call(http.MethodGet, "/v1/containers/box/jobs", nil, &jobs)
	if len(jobs) != 3 || jobs[0].ID != "hello" || jobs[2].ID != "long" {
		t.Fatalf("jobs: %+v", jobs)
	}
	for _, p := range []string{"/v1/containers/box/jobs/unknown", "/v1/containers/nobox/jobs", "/v1/containers/nobox/jobs/hello"} {
		if st := ta.call(http.MethodGet, p, nil, nil); st != http.StatusNotFound {
			t.Fatalf("GET %s: %d", p, st)
		}
	}
	if st := ta.call(http.MethodDelete, "/v1/containers/box/jobs/unknown", nil, nil); st != http.StatusNotFound {
		t.Fatalf("kill unknown: %d", st)
	}

	// A stopped container runs no jobs, but still tells about the old ones.
	ta.call(http.MethodPost, "/v1/containers/box/stop", nil, nil)
	if st := ta.call(http.MethodPost, "/v1/containers/box/jobs", JobRequest{ID: "late", Name: "true"}, nil); st != http.StatusConflict {
		t.Fatalf("job in a stopped container: %d", st)
	}
	if st := ta.call(http.MethodGet, "/v1/containers/box/jobs/hello", nil, &j); st != http.StatusOK || *j.ExitCode != 3 {
		t.Fatalf("old job of a stopped container: %d %+v", st, j)
	}

	// The end of the reservation removes its containers.
	var res StopResult
	if ta.call(http.MethodDelete, "/v1/reservations/r7", nil, &res); res.Containers != 1 {
		t.Fatalf("stop reservation: %+v", res)
	}
	if st := ta.call(http.MethodGet, "/v1/containers/box", nil, nil); st != http.StatusNotFound {
		t.Fatalf("container of an ended reservation: %d", st)
	}
}

func hasCmd(ps []ContainerProcess, cmd string) bool {
	for _, p := range ps {
		if strings.Contains(p.Cmdline, cmd) {
			return true
		}
	}
	return false
}

// TestJobsNeedAShell: an image without /bin/sh cannot run jobs, and says so.
func TestJobsNeedAShell(t *testing.T) {
	ta, image := dockerAgent(t)
	// The shell of the image moved aside: the container runs busybox's
	// sleep directly, and /bin/sh is gone.
	ta.call(http.MethodPost, "/v1/containers", ContainerRequest{ID: "nosh", Image: image,
		Cmd: []string{"/bin/busybox", "sh", "-c", "rm /bin/sh && exec /bin/busybox sleep 300"}}, nil)
	eventually(t, 10*time.Second, "/bin/sh to go", func() bool {
		var procs []ContainerProcess
		ta.call(http.MethodGet, "/v1/containers/nosh/processes", nil, &procs)
		return hasCmd(procs, "sleep 300")
	})
	resp := ta.do(http.MethodPost, "/v1/containers/nosh/jobs", strings.NewReader(`{"id":"j2","name":"true"}`))
	if p := problem(t, resp); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(p.Detail, "/bin/sh") {
		t.Fatalf("%d %+v", resp.StatusCode, p)
	}
}

func TestContainersWithoutDocker(t *testing.T) {
	ta := newTestAgent(t, nil)
	for _, p := range []string{"/v1/containers", "/v1/containers/x/jobs", "/v1/containers/x/processes"} {
		resp := ta.do(http.MethodGet, p, nil)
		if p := problem(t, resp); resp.StatusCode != http.StatusNotImplemented || !strings.Contains(p.Detail, "docker-host") {
			t.Fatalf("%d %+v", resp.StatusCode, p)
		}
	}
}
