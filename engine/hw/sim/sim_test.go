package sim

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridflow/gridflow/dsl/testbed"
	"github.com/gridflow/gridflow/engine/hw"
)

func cluster(cfg testbed.SimConfig, nodes ...string) *testbed.Cluster {
	c := &testbed.Cluster{UID: "c", Site: "s", Driver: testbed.Driver{Kind: testbed.DriverSim, Sim: &cfg}}
	for _, n := range nodes {
		c.Nodes = append(c.Nodes, &testbed.Node{UID: n, Site: "s", Cluster: "c",
			Properties: testbed.Properties{Cores: 16, Memory: 64 << 30, Disk: 600e9}})
	}
	return c
}

func newDriver(t *testing.T, cfg testbed.SimConfig, nodes ...string) *Driver {
	t.Helper()
	if cfg.CopyRate == 0 {
		cfg.CopyRate = 100e9
	}
	d, err := New(cluster(cfg, nodes...), Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func sha(b []byte) string { s := sha256.Sum256(b); return "sha256:" + hex.EncodeToString(s[:]) }

func kind(t *testing.T, err error, want hw.Kind, retryable bool) {
	t.Helper()
	if !errors.Is(err, want) || hw.Retryable(err) != retryable {
		t.Fatalf("error %v: want kind %q retryable=%v (got kind %q retryable=%v)", err, want, retryable, hw.KindOf(err), hw.Retryable(err))
	}
}

// outcomes reboots n times and records which calls failed.
func outcomes(t *testing.T, d *Driver, node string, n int, between func()) string {
	var b strings.Builder
	for range n {
		_, err := d.Reboot(context.Background(), node, hw.RebootOptions{})
		switch {
		case err == nil:
			b.WriteByte('.')
		case errors.Is(err, hw.Failed) && hw.Retryable(err):
			b.WriteByte('F')
		default:
			t.Fatalf("unexpected error %v", err)
		}
		if between != nil {
			between()
		}
	}
	return b.String()
}

func TestFailuresAreDeterministic(t *testing.T) {
	cfg := testbed.SimConfig{FailureRate: 0.5, Seed: 42}
	a := outcomes(t, newDriver(t, cfg, "n1", "n2"), "n1", 64, nil)
	// Calls on another node do not shift the faults of this one.
	d2 := newDriver(t, cfg, "n1", "n2")
	b := outcomes(t, d2, "n1", 64, func() { d2.Reboot(context.Background(), "n2", hw.RebootOptions{}) })
	if a != b {
		t.Fatalf("same seed, different faults:\n%s\n%s", a, b)
	}
	if f := strings.Count(a, "F"); f < 16 || f > 48 {
		t.Fatalf("%d faults in 64 calls at rate 0.5: %s", f, a)
	}
	other := outcomes(t, newDriver(t, testbed.SimConfig{FailureRate: 0.5, Seed: 43}, "n1"), "n1", 64, nil)
	if other == a {
		t.Fatalf("seeds 42 and 43 gave the same faults: %s", a)
	}
	n2 := outcomes(t, newDriver(t, cfg, "n1", "n2"), "n2", 64, nil)
	if n2 == a {
		t.Fatalf("nodes n1 and n2 fail alike: %s", a)
	}
	if none := outcomes(t, newDriver(t, testbed.SimConfig{Seed: 42}, "n1"), "n1", 32, nil); strings.Contains(none, "F") {
		t.Fatalf("faults at rate 0: %s", none)
	}
}

func TestRebootTakesBootTime(t *testing.T) {
	const boot = 300 * time.Millisecond
	d := newDriver(t, testbed.SimConfig{BootTime: boot}, "n1")
	ctx := context.Background()
	before, err := d.Info(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	done := make(chan error, 1)
	var after hw.NodeInfo
	go func() {
		var err error
		after, err = d.Reboot(ctx, "n1", hw.RebootOptions{IfGeneration: before.Generation})
		done <- err
	}()
	// While it boots the node does not answer.
	deadline := time.Now().Add(time.Second)
	for {
		_, err := d.Info(ctx, "n1")
		if err != nil {
			kind(t, err, hw.Unavailable, true)
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the node answered during its whole boot")
		}
		time.Sleep(time.Millisecond)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < boot {
		t.Fatalf("reboot took %s, boot time is %s", el, boot)
	}
	if after.Generation != before.Generation+1 || after.Uptime > boot/2 || after.Uptime < 0 || after.BootID == before.BootID {
		t.Fatalf("after reboot: %+v (before %+v)", after, before)
	}
	// The retry of that reboot does not reboot again.
	start = time.Now()
	again, err := d.Reboot(ctx, "n1", hw.RebootOptions{IfGeneration: before.Generation})
	if err != nil || again.Generation != after.Generation {
		t.Fatalf("retried reboot: %v %+v after %s", err, again, time.Since(start))
	}

	// A cancelled reboot returns at once; the node goes on booting.
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = d.Reboot(cctx, "n1", hw.RebootOptions{})
	if !errors.Is(err, context.DeadlineExceeded) || hw.Retryable(err) {
		t.Fatalf("cancelled reboot: %v after %s", err, time.Since(start))
	}
	if _, err := d.Info(ctx, "n1"); !errors.Is(err, hw.Unavailable) {
		t.Fatalf("node answered right after a cancelled reboot: %v", err)
	}
	deadline = time.Now().Add(2 * time.Second)
	for {
		if info, err := d.Info(ctx, "n1"); err == nil {
			if info.Generation != after.Generation+1 {
				t.Fatalf("generation %d after the cancelled reboot", info.Generation)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("node never came up")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := d.Info(ctx, "nope"); !errors.Is(err, hw.NotFound) {
		t.Fatalf("unknown node: %v", err)
	}
}

func TestInstallEnvironment(t *testing.T) {
	const deploy, boot = 100 * time.Millisecond, 50 * time.Millisecond
	d := newDriver(t, testbed.SimConfig{BootTime: boot, DeployTime: deploy}, "n1")
	ctx := context.Background()
	before, _ := d.Info(ctx, "n1")
	if before.Environment == nil || before.Environment.Name != hw.DefaultEnvironment {
		t.Fatalf("fresh node runs %+v", before.Environment)
	}
	pub, ok := hw.LookupPublicEnvironment("debian12-min@2024.1")
	if !ok {
		t.Fatal("no debian12-min in the catalog")
	}
	_, err := d.Install(ctx, "n1", hw.EnvSpec{Name: pub.Name, Checksum: sha([]byte("wrong"))})
	kind(t, err, hw.ChecksumMismatch, false)
	_, err = d.Install(ctx, "n1", hw.EnvSpec{Name: pub.Name, Checksum: "sha256:zz"})
	kind(t, err, hw.Invalid, false)

	start := time.Now()
	info, err := d.Install(ctx, "n1", hw.EnvSpec{Name: pub.Name, Checksum: pub.Checksum})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < deploy+boot {
		t.Fatalf("install took %s, want at least %s", el, deploy+boot)
	}
	if info.Environment == nil || info.Environment.Name != pub.Name || info.Generation != before.Generation+1 {
		t.Fatalf("after install: %+v", info)
	}
	start = time.Now()
	if again, err := d.Install(ctx, "n1", hw.EnvSpec{Name: pub.Name, Checksum: pub.Checksum}); err != nil || again.Generation != info.Generation {
		t.Fatalf("reinstall: %v %+v in %s", err, again, time.Since(start))
	}

	// A custom image stored on the node, checked by its real bytes.
	img := []byte("a custom image")
	if _, err := d.Put(ctx, "n1", "images/custom.tar", bytes.NewReader(img), hw.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = d.Install(ctx, "n1", hw.EnvSpec{Name: "custom@1", URL: "file:images/custom.tar", Checksum: sha([]byte("other"))})
	kind(t, err, hw.ChecksumMismatch, false)
	if info, err = d.Install(ctx, "n1", hw.EnvSpec{Name: "custom@1", URL: "file:images/custom.tar", Checksum: sha(img)}); err != nil || info.Environment.Name != "custom@1" {
		t.Fatalf("custom install: %v %+v", err, info.Environment)
	}
	// And one served over HTTP.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(img) }))
	defer srv.Close()
	_, err = d.Install(ctx, "n1", hw.EnvSpec{Name: "web@1", URL: srv.URL + "/img", Checksum: sha([]byte("other"))})
	kind(t, err, hw.ChecksumMismatch, false)
	if info, err = d.Install(ctx, "n1", hw.EnvSpec{Name: "web@1", URL: srv.URL + "/img", Checksum: sha(img)}); err != nil || info.Environment.Name != "web@1" {
		t.Fatalf("http install: %v %+v", err, info.Environment)
	}
}

func TestInstallFailsMidDeploy(t *testing.T) {
	// With seed 7 the node fails after 19% of its deploy time: well before
	// its end, even on a loaded machine.
	const deploy = time.Second
	d := newDriver(t, testbed.SimConfig{DeployTime: deploy, FailureRate: 1, Seed: 7}, "n1")
	pub, _ := hw.LookupPublicEnvironment("debian12-min@2024.1")
	start := time.Now()
	_, err := d.Install(context.Background(), "n1", hw.EnvSpec{Name: pub.Name, Checksum: pub.Checksum})
	kind(t, err, hw.Failed, true)
	if el := time.Since(start); el < 150*time.Millisecond || el > deploy {
		t.Fatalf("the failure came after %s, not mid-deploy (190ms of %s)", el, deploy)
	}
	info, err := d.Info(context.Background(), "n1")
	if err != nil {
		t.Fatal(err)
	}
	if info.Environment != nil {
		t.Fatalf("a node that failed mid-deploy still runs %+v", info.Environment)
	}
}

func TestFilesHaveRealBytesAndChecksums(t *testing.T) {
	dir := t.TempDir()
	d, err := New(cluster(testbed.SimConfig{CopyRate: 8_000_000}, "n1"), Options{Dir: dir}) // 1 MB/s
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	data := make([]byte, 200_000)
	rand.Read(data)

	start := time.Now()
	fi, err := d.Put(ctx, "n1", "in/data.bin", bytes.NewReader(data), hw.PutOptions{Checksum: sha(data)})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Fatalf("200 kB at 1 MB/s took %s", el)
	}
	if fi.Size != int64(len(data)) || fi.Checksum != sha(data) {
		t.Fatalf("put: %+v", fi)
	}
	if onDisk, err := os.ReadFile(filepath.Join(dir, "n1", "in", "data.bin")); err != nil || !bytes.Equal(onDisk, data) {
		t.Fatalf("bytes on disk differ: %v", err)
	}
	st, err := d.Stat(ctx, "n1", "in/data.bin", "adler32")
	if err != nil || !strings.HasPrefix(st.Checksum, "adler32:") || len(st.Checksum) != len("adler32:")+8 {
		t.Fatalf("stat: %v %+v", err, st)
	}

	start = time.Now()
	dl, err := d.Get(ctx, "n1", "in/data.bin", "")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(dl)
	dl.Close()
	if err != nil || !bytes.Equal(got, data) || dl.Checksum() != sha(data) || dl.Size() != int64(len(data)) {
		t.Fatalf("get: %v, checksum %s", err, dl.Checksum())
	}
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Fatalf("get of 200 kB at 1 MB/s took %s", el)
	}

	// Bytes changed behind the node's back fail the download's check.
	must(t, os.WriteFile(filepath.Join(dir, "n1", "in", "data.bin"), append([]byte("x"), data[1:]...), 0o644))
	dl, _ = d.Get(ctx, "n1", "in/data.bin", "")
	_, err = io.ReadAll(dl)
	dl.Close()
	kind(t, err, hw.ChecksumMismatch, true)

	_, err = d.Put(ctx, "n1", "bad.bin", bytes.NewReader(data[:1000]), hw.PutOptions{Checksum: sha(data)})
	kind(t, err, hw.ChecksumMismatch, false)
	_, err = d.Stat(ctx, "n1", "bad.bin", "")
	kind(t, err, hw.NotFound, false)
	if entries, _ := os.ReadDir(filepath.Join(dir, "n1")); len(entries) != 1 {
		t.Fatalf("leftovers after a mismatch: %v", entries)
	}
	_, err = d.Put(ctx, "n1", "in/data.bin", strings.NewReader("x"), hw.PutOptions{NoOverwrite: true})
	kind(t, err, hw.Exists, false)
	_, err = d.Put(ctx, "n1", "in", strings.NewReader("x"), hw.PutOptions{})
	kind(t, err, hw.Conflict, false)
	for _, p := range []string{"../x", "/etc/passwd", "a//b", ""} {
		_, err = d.Put(ctx, "n1", p, strings.NewReader("x"), hw.PutOptions{})
		kind(t, err, hw.Invalid, false)
	}
	must(t, d.Delete(ctx, "n1", "in/data.bin"))
	_, err = d.Stat(ctx, "n1", "in/data.bin", "")
	kind(t, err, hw.NotFound, false)
	must(t, d.Delete(ctx, "n1", "in/data.bin")) // idempotent

	// A cancelled transfer stops and stores nothing.
	cctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	_, err = d.Put(cctx, "n1", "slow.bin", bytes.NewReader(data), hw.PutOptions{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled put: %v", err)
	}
	if _, err := d.Stat(ctx, "n1", "slow.bin", ""); !errors.Is(err, hw.NotFound) {
		t.Fatalf("cancelled put stored the file: %v", err)
	}
}

func TestTemporaryDirIsRemoved(t *testing.T) {
	d, err := New(cluster(testbed.SimConfig{CopyRate: 1e9}, "n1"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Put(context.Background(), "n1", "f", strings.NewReader("x"), hw.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := d.dir
	must(t, d.Close())
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("%s survives Close: %v", dir, err)
	}
}

func waitExited(t *testing.T, d *Driver, node, id string) hw.Process {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p, err := d.Status(context.Background(), node, id)
		if err != nil {
			t.Fatal(err)
		}
		if p.State != hw.ProcessRunning {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %s still running", id)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestProcesses(t *testing.T) {
	d := newDriver(t, testbed.SimConfig{}, "n1")
	ctx := context.Background()
	start := time.Now()
	p, err := d.Start(ctx, "n1", hw.ProcessSpec{ID: "s", Name: "/bin/sh", Args: []string{"-c", "echo $WHO; sleep 0.5; hostname; nosuch; false"}, Env: map[string]string{"WHO": "me"}})
	if err != nil || p.State != hw.ProcessRunning || p.PID == 0 || p.RSS <= 0 {
		t.Fatalf("start: %v %+v", err, p)
	}
	out, _ := d.Output(ctx, "n1", "s")
	if string(out.Stdout) != "me\n" {
		t.Fatalf("output while sleeping: %q", out.Stdout)
	}
	p = waitExited(t, d, "n1", "s")
	if time.Since(start) < 500*time.Millisecond || p.ExitCode == nil || *p.ExitCode != 1 || p.Ended.Sub(p.Started) != 500*time.Millisecond {
		t.Fatalf("exited: %+v", p)
	}
	out, _ = d.Output(ctx, "n1", "s")
	if string(out.Stdout) != "me\nn1\n" || string(out.Stderr) != "sh: nosuch: not found\n" {
		t.Fatalf("output: %q %q", out.Stdout, out.Stderr)
	}
	for _, tc := range []struct {
		spec hw.ProcessSpec
		code int
	}{
		{hw.ProcessSpec{ID: "t", Name: "true"}, 0},
		{hw.ProcessSpec{ID: "f", Name: "/usr/bin/false"}, 1},
		{hw.ProcessSpec{ID: "e", Name: "sh", Args: []string{"-c", "echo x && exit 3"}}, 3},
		{hw.ProcessSpec{ID: "n", Name: "sh", Args: []string{"-c", "nosuch"}}, 127},
	} {
		if _, err := d.Start(ctx, "n1", tc.spec); err != nil {
			t.Fatal(err)
		}
		if p := waitExited(t, d, "n1", tc.spec.ID); *p.ExitCode != tc.code {
			t.Errorf("%s: exit %d, want %d", tc.spec.ID, *p.ExitCode, tc.code)
		}
	}
	_, err = d.Start(ctx, "n1", hw.ProcessSpec{ID: "x", Name: "/opt/app/run"})
	kind(t, err, hw.Failed, false)
	_, err = d.Start(ctx, "n1", hw.ProcessSpec{ID: "../x", Name: "true"})
	kind(t, err, hw.Invalid, false)

	long := hw.ProcessSpec{ID: "long", Name: "sleep", Args: []string{"60"}, Reservation: "r1"}
	first, _ := d.Start(ctx, "n1", long)
	again, err := d.Start(ctx, "n1", long)
	if err != nil || again.PID != first.PID {
		t.Fatalf("retried start: %v %+v", err, again)
	}
	long2 := long
	long2.Args = []string{"61"}
	_, err = d.Start(ctx, "n1", long2)
	kind(t, err, hw.Conflict, false)
	k, err := d.Kill(ctx, "n1", "long")
	if err != nil || k.State != hw.ProcessExited || k.Signal != "SIGTERM" || *k.ExitCode != -1 {
		t.Fatalf("kill: %v %+v", err, k)
	}
	_, err = d.Kill(ctx, "n1", "ghost")
	kind(t, err, hw.NotFound, false)

	// A reservation's processes and containers stop together; a reboot
	// stops everything.
	d.Start(ctx, "n1", hw.ProcessSpec{ID: "r1a", Name: "sleep", Args: []string{"60"}, Reservation: "r1"})
	d.Start(ctx, "n1", hw.ProcessSpec{ID: "r2a", Name: "sleep", Args: []string{"60"}, Reservation: "r2"})
	d.CreateContainer(ctx, "n1", hw.ContainerSpec{ID: "c1", Image: "busybox", Reservation: "r1"})
	if n, err := d.StopReservation(ctx, "n1", "r1"); err != nil || n != 2 {
		t.Fatalf("stop reservation: %d %v", n, err)
	}
	if p, _ := d.Status(ctx, "n1", "r2a"); p.State != hw.ProcessRunning {
		t.Fatalf("r2a: %+v", p)
	}
	if _, err := d.Reboot(ctx, "n1", hw.RebootOptions{}); err != nil {
		t.Fatal(err)
	}
	if p, _ := d.Status(ctx, "n1", "r2a"); p.State != hw.ProcessExited {
		t.Fatalf("r2a after reboot: %+v", p)
	}
	list, _ := d.List(ctx, "n1")
	if len(list) != 8 {
		t.Fatalf("list has %d processes", len(list))
	}
}

func TestContainers(t *testing.T) {
	d := newDriver(t, testbed.SimConfig{}, "n1")
	ctx := context.Background()
	spec := hw.ContainerSpec{ID: "web", Image: "nginx:1", Ports: map[string]int{"80/tcp": 0, "443/tcp": 8443}}
	c, err := d.CreateContainer(ctx, "n1", spec)
	if err != nil || c.State != hw.ContainerRunning || c.Ports["80/tcp"] == 0 || c.Ports["443/tcp"] != 8443 {
		t.Fatalf("create: %v %+v", err, c)
	}
	again, err := d.CreateContainer(ctx, "n1", spec)
	if err != nil || again.Created != c.Created {
		t.Fatalf("retried create: %v %+v", err, again)
	}
	spec.Image = "nginx:2"
	_, err = d.CreateContainer(ctx, "n1", spec)
	kind(t, err, hw.Conflict, false)
	if c, _ = d.StopContainer(ctx, "n1", "web"); c.State != hw.ContainerExited {
		t.Fatalf("stop: %+v", c)
	}
	if c, _ = d.StartContainer(ctx, "n1", "web"); c.State != hw.ContainerRunning {
		t.Fatalf("start: %+v", c)
	}
	must(t, d.DeleteContainer(ctx, "n1", "web"))
	must(t, d.DeleteContainer(ctx, "n1", "web"))
	_, err = d.Container(ctx, "n1", "web")
	kind(t, err, hw.NotFound, false)
	if l, _ := d.ListContainers(ctx, "n1"); len(l) != 0 {
		t.Fatalf("list: %+v", l)
	}
}

func TestInfoIsPlausible(t *testing.T) {
	d := newDriver(t, testbed.SimConfig{}, "n1")
	info, err := d.Info(context.Background(), "n1")
	if err != nil {
		t.Fatal(err)
	}
	m := info.Memory
	if info.CPUs != 16 || m.Total != 64<<30 || m.Used != m.Total-m.Available || m.Free > m.Available || info.Disk.Total != 600e9 || info.Hostname != "n1" {
		t.Fatalf("info: %+v", info)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
