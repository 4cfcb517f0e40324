package agent

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

const (
	dockerSocket = "/var/run/docker.sock"
	testImage    = "gridflow-agent-test:busybox"
)

// dockerForTest returns a Docker client, or skips the test saying why.
func dockerForTest(t *testing.T) *dockerClient {
	t.Helper()
	if _, err := os.Stat(dockerSocket); err != nil {
		t.Skipf("no Docker Engine: %v", err)
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skipf("no static busybox to build the test image from (apt-get install busybox-static): %v", err)
	}
	c, err := newDockerClient("unix://"+dockerSocket, "test")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.do(ctx, http.MethodGet, "/_ping", nil, nil, nil); err != nil {
		t.Skipf("Docker Engine not reachable at %s: %v", dockerSocket, err)
	}
	return c
}

// buildBusyboxImage builds an image FROM scratch holding a static busybox,
// through the Engine API (no pull: the machine is offline).
func buildBusyboxImage(t *testing.T, c *dockerClient) {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	var ctxTar bytes.Buffer
	tw := tar.NewWriter(&ctxTar)
	dockerfile := "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nCMD [\"/bin/sh\"]\n"
	for _, f := range []struct {
		name string
		mode int64
		body []byte
	}{{"Dockerfile", 0o644, []byte(dockerfile)}, {"busybox", 0o755, bb}} {
		must(t, tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.body))}))
		if _, err := tw.Write(f.body); err != nil {
			t.Fatal(err)
		}
	}
	must(t, tw.Close())
	req, _ := http.NewRequest(http.MethodPost, c.base+"/build?"+url.Values{"t": {testImage}, "rm": {"1"}}.Encode(), &ctxTar)
	req.Header.Set("Content-Type", "application/x-tar")
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("docker build: %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var msg struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(sc.Bytes(), &msg) == nil && msg.Error != "" {
			t.Fatalf("docker build: %s", msg.Error)
		}
	}
}

func TestContainers(t *testing.T) {
	dc := dockerForTest(t)
	buildBusyboxImage(t, dc)
	ta := newTestAgent(t, func(c *Config) { c.DockerHost = "unix://" + dockerSocket; c.KillGrace = time.Second })
	t.Cleanup(func() {
		for _, id := range []string{"web", "other"} {
			_ = ta.a.docker.remove(context.Background(), id)
		}
	})
	var info Info
	ta.call(http.MethodGet, "/v1/info", nil, &info)
	if !info.Containers {
		t.Fatal("info does not report the container runtime")
	}

	req := ContainerRequest{
		ID: "web", Image: testImage, Hostname: "web-1", Reservation: "r1",
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
	if c.ID != "web" || c.State != "running" || c.Ports["8080/tcp"] == 0 || c.Reservation != "r1" || c.DockerID == "" {
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
	if st := ta.call(http.MethodPost, "/v1/containers", ContainerRequest{ID: "other", Image: "gridflow-no-such-image:1"}, nil); st != http.StatusUnprocessableEntity {
		t.Fatalf("missing image: %d", st)
	}

	var list []Container
	ta.call(http.MethodGet, "/v1/containers", nil, &list)
	if len(list) != 1 || list[0].ID != "web" {
		t.Fatalf("list: %+v", list)
	}
	if st := ta.call(http.MethodPost, "/v1/containers/web/stop", nil, &c); st != http.StatusOK || c.State != "exited" {
		t.Fatalf("stop: %d %+v", st, c)
	}
	if st := ta.call(http.MethodPost, "/v1/containers/web/start", nil, &c); st != http.StatusOK || c.State != "running" {
		t.Fatalf("start: %d %+v", st, c)
	}
	// A reboot stops the containers of the node.
	ta.call(http.MethodPost, "/v1/reboot", nil, nil)
	ta.call(http.MethodGet, "/v1/containers/web", nil, &c)
	if c.State != "exited" {
		t.Fatalf("after reboot: %+v", c)
	}
	ta.call(http.MethodPost, "/v1/containers/web/start", nil, &c)
	var res StopResult
	if ta.call(http.MethodDelete, "/v1/reservations/r1", nil, &res); res.Containers != 1 {
		t.Fatalf("stop reservation: %+v", res)
	}
	if st := ta.call(http.MethodDelete, "/v1/containers/web", nil, nil); st != http.StatusNoContent {
		t.Fatalf("delete: %d", st)
	}
	if st := ta.call(http.MethodGet, "/v1/containers/web", nil, nil); st != http.StatusNotFound {
		t.Fatalf("get deleted: %d", st)
	}
}

func TestContainersWithoutDocker(t *testing.T) {
	ta := newTestAgent(t, nil)
	resp := ta.do(http.MethodGet, "/v1/containers", nil)
	if p := problem(t, resp); resp.StatusCode != http.StatusNotImplemented || !strings.Contains(p.Detail, "docker-host") {
		t.Fatalf("%d %+v", resp.StatusCode, p)
	}
}
