// Package dockertest gives tests a Docker Engine and a small image to run,
// built FROM scratch with Debian's static busybox (no image is pulled: the
// machines that run the tests may be offline). Tests skip, saying why, where
// no Docker Engine answers or no static busybox is installed.
package dockertest

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/gridflow/gridflow/agent/dockerapi"
)

// Socket is where the tests look for the Docker Engine.
const Socket = "/var/run/docker.sock"

// Image is the tag of the busybox image BusyboxImage builds. Its default
// command is /bin/sh; it has sh, sleep, httpd, setsid, kill… and no /tmp.
const Image = "gridflow-agent-test:busybox"

// Busybox is the static busybox the image is built from
// (apt-get install busybox-static).
const Busybox = "/bin/busybox"

// Host returns the Docker host of the tests (unix://Socket), or skips t.
func Host(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(Socket); err != nil {
		t.Skipf("no Docker Engine: %v", err)
	}
	c, err := dockerapi.New("unix://"+Socket, "probe")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx); err != nil {
		t.Skipf("Docker Engine not reachable at %s: %v", Socket, err)
	}
	return "unix://" + Socket
}

var (
	buildMu sync.Mutex
	built   bool
)

// BusyboxImage builds Image (once per test binary) on the engine at host,
// or skips t when there is no static busybox to build it from.
func BusyboxImage(t testing.TB, host string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if built {
		return Image
	}
	bb, err := os.ReadFile(Busybox)
	if err != nil {
		t.Skipf("no static busybox to build the test image from (apt-get install busybox-static): %v", err)
	}
	var ctxTar bytes.Buffer
	tw := tar.NewWriter(&ctxTar)
	dockerfile := "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nCMD [\"/bin/sh\"]\n"
	for _, f := range []struct {
		name string
		mode int64
		body []byte
	}{{"Dockerfile", 0o644, []byte(dockerfile)}, {"busybox", 0o755, bb}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.body))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	c, err := dockerapi.New(host, "build")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.BuildImage(ctx, Image, &ctxTar); err != nil {
		t.Fatal(err)
	}
	built = true
	return Image
}

// Idle is a container command for Image that runs until stopped and exits
// at once on SIGTERM (a shell as PID 1 ignores it otherwise, and Docker then
// waits for its SIGKILL).
var Idle = []string{"/bin/sh", "-c", `trap "exit 0" TERM; while :; do sleep 1 & wait; done`}
