package agentclient

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gridflow/gridflow/agent"
	"github.com/gridflow/gridflow/engine/hw"
)

const token = "agentclient-test-token"

// runningAgent is a real agent served on a loopback port by agent.Serve.
type runningAgent struct {
	addr, dir string
	cancel    context.CancelFunc
	done      chan error
}

func startAgent(t *testing.T, addr, dir string) *runningAgent {
	t.Helper()
	var l net.Listener
	var err error
	// The port of a just-stopped agent can take a moment to be free again.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if l, err = net.Listen("tcp", addr); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ra := &runningAgent{addr: l.Addr().String(), dir: dir, cancel: cancel, done: make(chan error, 1)}
	cfg := agent.Config{DataDir: dir, Token: token, KillGrace: time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	go func() { ra.done <- agent.Serve(ctx, l, cfg) }()
	t.Cleanup(ra.stop)
	return ra
}

func (ra *runningAgent) stop() {
	ra.cancel()
	<-ra.done
	ra.done <- nil // stop is idempotent
}

func newClient(t *testing.T, addrs map[string]string, mod func(*Options)) *Client {
	t.Helper()
	o := Options{Token: token, Timeout: 5 * time.Second, DownAfter: 2}
	if mod != nil {
		mod(&o)
	}
	c, err := New(addrs, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func kind(t *testing.T, err error, want hw.Kind, retryable bool) {
	t.Helper()
	if !errors.Is(err, want) || hw.Retryable(err) != retryable {
		t.Fatalf("error %v: want kind %q retryable=%v (got %q, %v)", err, want, retryable, hw.KindOf(err), hw.Retryable(err))
	}
}

func sha(b []byte) string { s := sha256.Sum256(b); return "sha256:" + hex.EncodeToString(s[:]) }

func TestInfoRebootAndProcesses(t *testing.T) {
	ra := startAgent(t, "127.0.0.1:0", t.TempDir())
	c := newClient(t, map[string]string{"n1": ra.addr}, nil)
	ctx := context.Background()

	info, err := c.Info(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	if info.Node != "n1" || info.CPUs <= 0 || info.Memory.Total == 0 || info.Memory.Used != info.Memory.Total-info.Memory.Available || info.Generation != 1 || info.Uptime <= 0 {
		t.Fatalf("info: %+v", info)
	}

	spec := hw.ProcessSpec{ID: "job", Name: "/bin/sh", Args: []string{"-c", "echo hello; echo oops >&2; exit 4"}, Reservation: "r1"}
	p, err := c.Start(ctx, "n1", spec)
	if err != nil || p.PID == 0 {
		t.Fatalf("start: %v %+v", err, p)
	}
	again, err := c.Start(ctx, "n1", spec)
	if err != nil || again.PID != p.PID {
		t.Fatalf("retried start: %v %+v", err, again)
	}
	other := spec
	other.Args = []string{"-c", "true"}
	_, err = c.Start(ctx, "n1", other)
	kind(t, err, hw.Conflict, false)
	_, err = c.Start(ctx, "n1", hw.ProcessSpec{ID: "missing", Name: "/no/such/program"})
	kind(t, err, hw.Failed, false)
	_, err = c.Start(ctx, "n1", hw.ProcessSpec{ID: "bad/id", Name: "true"})
	kind(t, err, hw.Invalid, false)

	deadline := time.Now().Add(5 * time.Second)
	for p.State == hw.ProcessRunning {
		if time.Now().After(deadline) {
			t.Fatal("process never exited")
		}
		time.Sleep(10 * time.Millisecond)
		if p, err = c.Status(ctx, "n1", "job"); err != nil {
			t.Fatal(err)
		}
	}
	if p.ExitCode == nil || *p.ExitCode != 4 {
		t.Fatalf("exit: %+v", p)
	}
	out, err := c.Output(ctx, "n1", "job")
	if err != nil || string(out.Stdout) != "hello\n" || string(out.Stderr) != "oops\n" {
		t.Fatalf("output: %v %q %q", err, out.Stdout, out.Stderr)
	}
	_, err = c.Status(ctx, "n1", "nope")
	kind(t, err, hw.NotFound, false)

	long := hw.ProcessSpec{ID: "long", Name: "sleep", Args: []string{"60"}, Reservation: "r1"}
	if _, err := c.Start(ctx, "n1", long); err != nil {
		t.Fatal(err)
	}
	if n, err := c.StopReservation(ctx, "n1", "r1"); err != nil || n != 1 {
		t.Fatalf("stop reservation: %d %v", n, err)
	}
	if _, err := c.Start(ctx, "n1", hw.ProcessSpec{ID: "long2", Name: "sleep", Args: []string{"60"}}); err != nil {
		t.Fatal(err)
	}
	k, err := c.Kill(ctx, "n1", "long2")
	if err != nil || k.State != hw.ProcessExited || k.Signal != "SIGTERM" {
		t.Fatalf("kill: %v %+v", err, k)
	}
	list, err := c.List(ctx, "n1")
	if err != nil || len(list) != 3 {
		t.Fatalf("list: %v %d", err, len(list))
	}

	after, err := c.Reboot(ctx, "n1", hw.RebootOptions{IfGeneration: info.Generation})
	if err != nil || after.Generation != info.Generation+1 || after.Uptime > 5*time.Second {
		t.Fatalf("reboot: %v %+v", err, after)
	}
	same, err := c.Reboot(ctx, "n1", hw.RebootOptions{IfGeneration: info.Generation})
	if err != nil || same.Generation != after.Generation {
		t.Fatalf("retried reboot: %v %+v", err, same)
	}

	_, err = c.CreateContainer(ctx, "n1", hw.ContainerSpec{ID: "c", Image: "x"})
	kind(t, err, hw.Unsupported, false)
	_, err = c.Info(ctx, "ghost")
	kind(t, err, hw.NotFound, false)
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	ra := startAgent(t, "127.0.0.1:0", dir)
	c := newClient(t, map[string]string{"n1": ra.addr}, nil)
	ctx := context.Background()
	data := make([]byte, 4<<20+3)
	rand.Read(data)

	fi, err := c.Put(ctx, "n1", "in/big.bin", bytes.NewReader(data), hw.PutOptions{Checksum: sha(data)})
	if err != nil || fi.Size != int64(len(data)) || fi.Checksum != sha(data) || fi.Path != "in/big.bin" {
		t.Fatalf("put: %v %+v", err, fi)
	}
	fi, err = c.Put(ctx, "n1", "in/small.txt", strings.NewReader("abc"), hw.PutOptions{Algorithm: "adler32"})
	if err != nil || fi.Checksum != "adler32:024d0127" {
		t.Fatalf("put adler32: %v %+v", err, fi)
	}
	_, err = c.Put(ctx, "n1", "in/small.txt", strings.NewReader("abc"), hw.PutOptions{NoOverwrite: true})
	kind(t, err, hw.Exists, false)
	_, err = c.Put(ctx, "n1", "in/bad.bin", bytes.NewReader(data[:100]), hw.PutOptions{Checksum: sha(data)})
	kind(t, err, hw.ChecksumMismatch, false)
	if _, err := os.Stat(filepath.Join(dir, "files", "in", "bad.bin")); !os.IsNotExist(err) {
		t.Fatalf("a mismatched upload was stored: %v", err)
	}
	for _, p := range []string{"../x", "/etc/passwd", "a/../../b"} {
		_, err = c.Put(ctx, "n1", p, strings.NewReader("x"), hw.PutOptions{})
		kind(t, err, hw.Invalid, false)
	}
	if err := os.Symlink(t.TempDir(), filepath.Join(dir, "files", "out")); err != nil {
		t.Fatal(err)
	}
	_, err = c.Put(ctx, "n1", "out/planted", strings.NewReader("x"), hw.PutOptions{})
	kind(t, err, hw.Forbidden, false)

	st, err := c.Stat(ctx, "n1", "in/big.bin", "md5")
	if err != nil || st.Size != int64(len(data)) || !strings.HasPrefix(st.Checksum, "md5:") {
		t.Fatalf("stat: %v %+v", err, st)
	}
	_, err = c.Stat(ctx, "n1", "in/none", "")
	kind(t, err, hw.NotFound, false)

	dl, err := c.Get(ctx, "n1", "in/big.bin", "")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(dl)
	dl.Close()
	if err != nil || !bytes.Equal(got, data) || dl.Checksum() != sha(data) || dl.Size() != int64(len(data)) {
		t.Fatalf("get: %v, %d bytes, %s", err, len(got), dl.Checksum())
	}
	_, err = c.Get(ctx, "n1", "in", "")
	kind(t, err, hw.Conflict, false)

	if err := c.Delete(ctx, "n1", "in/big.bin"); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "n1", "in/big.bin"); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	_, err = c.Get(ctx, "n1", "in/big.bin", "")
	kind(t, err, hw.NotFound, false)
}

// A body whose bytes differ from the checksum the server sends in its trailer
// fails at its end.
func TestGetDetectsCorruption(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", agent.HeaderChecksum)
		w.Header().Set(agent.HeaderSize, "5")
		io.WriteString(w, "hello")
		w.Header().Set(agent.HeaderChecksum, sha([]byte("HELLO")))
	}))
	defer srv.Close()
	c := newClient(t, map[string]string{"n1": strings.TrimPrefix(srv.URL, "http://")}, nil)
	dl, err := c.Get(context.Background(), "n1", "f", "")
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Close()
	_, err = io.ReadAll(dl)
	kind(t, err, hw.ChecksumMismatch, true)
}

func TestInstallEnvironment(t *testing.T) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	tw.WriteHeader(&tar.Header{Name: "etc/os-release", Mode: 0o644, Size: 3})
	tw.Write([]byte("os\n"))
	tw.Close()
	gz.Close()
	archive := buf.Bytes()
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(archive) }))
	defer files.Close()

	ra := startAgent(t, "127.0.0.1:0", t.TempDir())
	c := newClient(t, map[string]string{"n1": ra.addr}, nil)
	ctx := context.Background()
	_, err := c.Install(ctx, "n1", hw.EnvSpec{Name: "e@1", URL: files.URL + "/e.tgz", Checksum: sha([]byte("no"))})
	kind(t, err, hw.ChecksumMismatch, false)
	info, err := c.Install(ctx, "n1", hw.EnvSpec{Name: "e@1", URL: files.URL + "/e.tgz", Checksum: sha(archive)})
	if err != nil || info.Environment == nil || info.Environment.Name != "e@1" || info.Generation != 2 {
		t.Fatalf("install: %v %+v", err, info)
	}
	_, err = c.Install(ctx, "n1", hw.EnvSpec{Name: "e@2", URL: files.URL + "/e.tgz"})
	kind(t, err, hw.Invalid, false)
}

func TestErrorsAreClassed(t *testing.T) {
	ra := startAgent(t, "127.0.0.1:0", t.TempDir())
	wrong := newClient(t, map[string]string{"n1": ra.addr}, func(o *Options) { o.Token = "wrong" })
	_, err := wrong.Info(context.Background(), "n1")
	kind(t, err, hw.Unauthorized, false)

	unavailable := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}))
	defer unavailable.Close()
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)
	c := newClient(t, map[string]string{
		"busy": strings.TrimPrefix(unavailable.URL, "http://"),
		"hang": strings.TrimPrefix(hang.URL, "http://"),
	}, func(o *Options) { o.Timeout = 100 * time.Millisecond })
	_, err = c.Info(context.Background(), "busy")
	kind(t, err, hw.Unavailable, true)
	// The hanging agent never answers: getting an error at all shows the timeout applies.
	_, err = c.Info(context.Background(), "hang")
	kind(t, err, hw.Unavailable, true)
	// The caller's own cancellation is not the node's fault.
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	_, err = c.Reboot(ctx, "hang", hw.RebootOptions{})
	if !errors.Is(err, context.Canceled) || hw.Retryable(err) {
		t.Fatalf("cancelled call: %v", err)
	}
	if h, _ := c.Health("hang"); h.ConsecutiveFailures != 1 {
		t.Fatalf("health after one timeout and one cancellation: %+v", h)
	}
}

func TestNodeGoesDownAndComesBack(t *testing.T) {
	dir := t.TempDir()
	ra := startAgent(t, "127.0.0.1:0", dir)
	addr := ra.addr
	var mu sync.Mutex
	var events []hw.Health
	c := newClient(t, map[string]string{"n1": addr}, func(o *Options) {
		o.DownAfter = 3
		o.OnHealth = func(h hw.Health) { mu.Lock(); events = append(events, h); mu.Unlock() }
	})
	ctx := context.Background()
	before, err := c.Info(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	if h, ok := c.Health("n1"); !ok || !h.Up || h.LastSeen.IsZero() {
		t.Fatalf("health of an answering node: %+v", h)
	}

	ra.stop()
	for i := 1; i <= 3; i++ {
		_, err := c.Info(ctx, "n1")
		kind(t, err, hw.Unavailable, true)
		h, _ := c.Health("n1")
		if h.ConsecutiveFailures != i || h.Up != (i < 3) || h.LastError == "" {
			t.Fatalf("after %d failures: %+v", i, h)
		}
	}
	mu.Lock()
	if len(events) != 1 || events[0].Up || events[0].Node != "n1" {
		t.Fatalf("events after going down: %+v", events)
	}
	mu.Unlock()

	// The agent comes back on the same address and data directory.
	startAgent(t, addr, dir)
	after, err := c.Info(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	if after.Generation != before.Generation {
		t.Fatalf("an agent restart is not a reboot: generation %d → %d", before.Generation, after.Generation)
	}
	h, _ := c.Health("n1")
	if !h.Up || h.ConsecutiveFailures != 0 {
		t.Fatalf("health after the agent came back: %+v", h)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 2 || !events[1].Up || !events[1].Since.After(events[0].Since) {
		t.Fatalf("events: %+v", events)
	}
}

func TestNewNeedsToken(t *testing.T) {
	if _, err := New(nil, Options{}); err == nil {
		t.Fatal("client without token")
	}
}
