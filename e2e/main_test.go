//go:build e2e

// Package e2e runs Gridflow end to end in containers: an engine container
// (`gridflow dev`) and node-agent containers (`gridflow agent`) on a private
// Docker network, driven only through the REST API, as a user would, with
// faults injected through Docker (a node lost, the engine restarted).
//
//	scripts/e2e.sh                                 # installs busybox-static if needed, runs the suite
//	go test -tags e2e -count=1 -v ./e2e/ -run TestX
//	GRIDFLOW_E2E_BINARY=path/to/static/gridflow go test -tags e2e ...   # skip the build
//
// TestMain builds a static gridflow binary (CGO_ENABLED=0) into e2e/.build/,
// copies Debian's busybox-static beside it, and builds the image of the
// repository's Dockerfile (FROM scratch: nothing is pulled) once per run.
// Every test gets its own network, engine and agents, so that one test's
// faults never leak into another. Traffic goes to 127.0.0.1 (the mapped ports)
// and to the test's own containers only: the containers' DNS forwards nothing
// outside (see hostConfig).
package e2e

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

const (
	imageRepo = "gridflow-e2e"
	imageTag  = "dev"
)

// image is the reference of the image TestMain built.
var image = imageRepo + ":" + imageTag

func TestMain(m *testing.M) {
	// No image can be pulled here, the reaper's included; and this machine
	// has /.dockerenv, so without the override testcontainers would look for
	// the daemon's host somewhere unreachable.
	setDefaultEnv("TESTCONTAINERS_RYUK_DISABLED", "true")
	setDefaultEnv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
	if err := prepareImage(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: "+err.Error())
		os.Exit(1)
	}
	code := m.Run()
	printSummary(os.Stdout)
	os.Exit(code)
}

func setDefaultEnv(k, v string) {
	if os.Getenv(k) == "" {
		os.Setenv(k, v)
	}
}

// prepareImage builds the binary, stages busybox and builds the image.
func prepareImage() error {
	root, err := filepath.Abs("..")
	if err != nil {
		return err
	}
	build := filepath.Join(root, "e2e", ".build")
	if err := os.MkdirAll(build, 0o755); err != nil {
		return err
	}

	if bin := os.Getenv("GRIDFLOW_E2E_BINARY"); bin != "" {
		// A binary built elsewhere (it must be static: CGO_ENABLED=0).
		if err := stageStatic(bin, filepath.Join(build, "gridflow"), "GRIDFLOW_E2E_BINARY"); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "e2e: using the gridflow binary %s\n", bin)
	} else {
		start := time.Now()
		// -o onto the same file relinks only when something changed.
		cmd := exec.Command("go", "build", "-ldflags=-s -w", "-o", filepath.Join(build, "gridflow"), "./cmd/gridflow")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("building the static gridflow binary: %w", err)
		}
		fmt.Fprintf(os.Stderr, "e2e: gridflow binary built in %s\n", time.Since(start).Round(time.Millisecond))
	}

	busybox := os.Getenv("GRIDFLOW_E2E_BUSYBOX")
	if busybox == "" {
		busybox = "/bin/busybox"
	}
	if err := stageStatic(busybox, filepath.Join(build, "busybox"), "busybox (apt-get install busybox-static, or run scripts/e2e.sh)"); err != nil {
		return err
	}

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		return fmt.Errorf("docker: %w (is the Docker daemon running?)", err)
	}
	defer p.Close()
	before := imageID(ctx, p.Client(), image)
	req := &testcontainers.ContainerRequest{FromDockerfile: testcontainers.FromDockerfile{
		Context: root, Dockerfile: "Dockerfile", Repo: imageRepo, Tag: imageTag, KeepImage: true,
		BuildLogWriter: io.Discard,
	}}
	tag, err := p.BuildImage(ctx, req)
	if err != nil {
		return fmt.Errorf("building the image from %s: %w", filepath.Join(root, "Dockerfile"), err)
	}
	image = tag
	// The tag moved to the new image: drop the previous one rather than
	// leave ~150 MB behind per change of the binary.
	if after := imageID(ctx, p.Client(), image); before != "" && after != "" && before != after {
		_, _ = p.Client().ImageRemove(ctx, before, client.ImageRemoveOptions{PruneChildren: true})
	}
	fmt.Fprintf(os.Stderr, "e2e: image %s built in %s\n", image, time.Since(start).Round(time.Millisecond))
	return nil
}

func imageID(ctx context.Context, c client.APIClient, ref string) string {
	res, err := c.ImageInspect(ctx, ref)
	if err != nil {
		return ""
	}
	return res.ID
}

// stageStatic copies a statically linked executable to dst, unless dst
// already holds the same bytes (so that the image layer stays cached).
func stageStatic(src, dst, what string) error {
	f, err := elf.Open(src)
	if err != nil {
		return fmt.Errorf("no usable %s at %s: %v", what, src, err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			f.Close()
			return fmt.Errorf("%s is dynamically linked and cannot run in a FROM scratch image: %s", src, what)
		}
	}
	f.Close()
	want, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if have, err := os.ReadFile(dst); err == nil && bytes.Equal(have, want) {
		return nil
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, want, 0o755); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// short trims s for messages.
func short(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
