package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridflow/gridflow/agent"
	"github.com/gridflow/gridflow/engine/hw"
	"github.com/gridflow/gridflow/engine/hw/agentclient"
)

// envTree writes a small system tree: files with their modes, an empty
// directory, a symbolic link, nested directories.
func envTree(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "my-debian")
	files := map[string]struct {
		body string
		mode os.FileMode
	}{
		"etc/os-release":        {"PRETTY_NAME=\"my debian\"\n", 0o644},
		"usr/bin/hello":         {"#!/bin/sh\necho hello\n", 0o755},
		"usr/share/doc/README":  {strings.Repeat("documentation\n", 1000), 0o644},
		"root/.profile":         {"PS1='# '\n", 0o600},
		"var/lib/dpkg/status.d": {"", 0o644},
	}
	for name, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.body), f.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, f.mode); err != nil { // whatever the umask
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "var", "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("hello", filepath.Join(dir, "usr", "bin", "hi")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runCLI runs gridflow with args and returns what it printed.
func envCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	app := newApp()
	var out, errOut bytes.Buffer
	app.Writer, app.ErrWriter = &out, &errOut
	err := app.Run(append([]string{"gridflow"}, args...))
	return out.String() + errOut.String(), err
}

// packedField returns a field of env pack's output.
func packedField(t *testing.T, out, field string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, field+" "); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s in %q", field, out)
	return ""
}

func TestEnvPackIsReproducibleAndAgentsInstallIt(t *testing.T) {
	dir := envTree(t)
	out1 := filepath.Join(t.TempDir(), "a.tar.gz")
	printed, err := envCLI(t, "env", "pack", dir, "-o", out1)
	if err != nil {
		t.Fatalf("pack: %v\n%s", err, printed)
	}
	raw1, err := os.ReadFile(out1)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw1)
	want := "sha256:" + hex.EncodeToString(sum[:])
	if got := packedField(t, printed, "checksum"); got != want {
		t.Fatalf("printed checksum %s, the file has %s", got, want)
	}
	if got := packedField(t, printed, "size"); got != fmt.Sprint(len(raw1)) {
		t.Fatalf("printed size %s, the file has %d bytes", got, len(raw1))
	}

	// The same tree later, with other times: the same bytes.
	later := time.Now().Add(-48 * time.Hour)
	_ = filepath.Walk(dir, func(p string, _ os.FileInfo, _ error) error { return os.Chtimes(p, later, later) })
	out2 := filepath.Join(t.TempDir(), "b.tar.gz")
	if printed2, err := envCLI(t, "env", "pack", dir, "--output", out2); err != nil || packedField(t, printed2, "checksum") != want {
		t.Fatalf("second pack: %v\n%s", err, printed2)
	}
	raw2, _ := os.ReadFile(out2)
	if !bytes.Equal(raw1, raw2) {
		t.Fatal("packing the same tree twice gave different archives")
	}

	// Entries in name order, times at the epoch, owners root, modes kept.
	gz, err := gzip.NewReader(bytes.NewReader(raw1))
	if err != nil {
		t.Fatal(err)
	}
	if !gz.ModTime.IsZero() && gz.ModTime.Unix() != 0 {
		t.Fatalf("gzip header time %v", gz.ModTime)
	}
	tr := tar.NewReader(gz)
	var names []string
	modes := map[string]int64{}
	for {
		hd, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hd.Name)
		modes[hd.Name] = hd.Mode
		if hd.ModTime.Unix() != 0 || hd.Uid != 0 || hd.Gid != 0 || hd.Uname != "" {
			t.Fatalf("entry %s: time %v owner %d:%d %q", hd.Name, hd.ModTime, hd.Uid, hd.Gid, hd.Uname)
		}
	}
	wantNames := []string{"etc/", "etc/os-release", "root/", "root/.profile", "usr/", "usr/bin/", "usr/bin/hello", "usr/bin/hi",
		"usr/share/", "usr/share/doc/", "usr/share/doc/README", "var/", "var/empty/", "var/lib/", "var/lib/dpkg/", "var/lib/dpkg/status.d"}
	if strings.Join(names, " ") != strings.Join(wantNames, " ") {
		t.Fatalf("entries\n%v\nwant\n%v", names, wantNames)
	}
	if modes["usr/bin/hello"] != 0o755 || modes["root/.profile"] != 0o600 {
		t.Fatalf("modes %v", modes)
	}

	// Other algorithms, as the catalog accepts them.
	for algo, prefix := range map[string]string{"md5": "md5:", "adler32": "adler32:"} {
		printed, err := envCLI(t, "env", "pack", dir, "-o", filepath.Join(t.TempDir(), "x.tar.gz"), "--algorithm", algo)
		if err != nil || !strings.HasPrefix(packedField(t, printed, "checksum"), prefix) {
			t.Fatalf("pack --algorithm %s: %v\n%s", algo, err, printed)
		}
	}

	// Mistakes are named.
	empty := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"env", "pack", empty, "-o", filepath.Join(t.TempDir(), "e.tar.gz")}, "is empty"},
		{[]string{"env", "pack", out1}, "not a directory"},
		{[]string{"env", "pack", filepath.Join(empty, "nope")}, "no such file"},
		{[]string{"env", "pack", dir, "--algorithm", "crc32"}, "crc32"},
		{[]string{"env", "pack", dir, "--register", "x@1"}, "--url"},
		{[]string{"env", "pack", dir, "--register", "x", "--url", "file:x"}, "NAME@VERSION"},
		{[]string{"env", "pack"}, "one directory"},
	} {
		if _, err := envCLI(t, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("gridflow %s: %v, want an error saying %q", strings.Join(c.args, " "), err, c.want)
		}
	}

	// A real agent downloads it, checks its checksum, unpacks it and
	// reboots into it.
	const token = "env-pack-agent-token-0123456789"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	agentDir := t.TempDir()
	done := make(chan error, 1)
	go func() { done <- agent.Serve(ctx, l, agent.Config{DataDir: agentDir, Token: token}) }()
	defer func() { cancel(); <-done }()
	srv := httptest.NewServer(http.FileServer(http.Dir(filepath.Dir(out1))))
	defer srv.Close()
	c, err := agentclient.New(map[string]string{"n1": l.Addr().String()}, agentclient.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	before, err := c.Info(context.Background(), "n1")
	if err != nil {
		t.Fatal(err)
	}
	spec := hw.EnvSpec{Name: "my-debian@1", URL: srv.URL + "/a.tar.gz", Checksum: want}
	if _, err := c.Install(context.Background(), "n1", hw.EnvSpec{Name: spec.Name, URL: spec.URL, Checksum: "sha256:" + strings.Repeat("0", 64)}); hw.KindOf(err) != hw.ChecksumMismatch {
		t.Fatalf("install with a wrong checksum: %v", err)
	}
	info, err := c.Install(context.Background(), "n1", spec)
	if err != nil {
		t.Fatalf("install the packed archive: %v", err)
	}
	if info.Environment == nil || info.Environment.Name != spec.Name || info.Environment.Checksum != want || info.Generation <= before.Generation {
		t.Fatalf("after install: %+v (generation before %d)", info, before.Generation)
	}
	root := filepath.Join(agentDir, "envs", spec.Name)
	if b, err := os.ReadFile(filepath.Join(root, "etc", "os-release")); err != nil || !strings.Contains(string(b), "my debian") {
		t.Fatalf("unpacked os-release: %q %v", b, err)
	}
	if fi, err := os.Stat(filepath.Join(root, "usr", "bin", "hello")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("unpacked hello: %v %v", fi, err)
	}
	if target, err := os.Readlink(filepath.Join(root, "usr", "bin", "hi")); err != nil || target != "hello" {
		t.Fatalf("unpacked link: %q %v", target, err)
	}
	if fi, err := os.Stat(filepath.Join(root, "var", "empty")); err != nil || !fi.IsDir() {
		t.Fatalf("unpacked empty directory: %v", err)
	}
}
