package storage

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridflow/gridflow/agent"
	"github.com/gridflow/gridflow/agent/checksum"
	"github.com/gridflow/gridflow/dsl/testbed"
	"github.com/gridflow/gridflow/engine/hw"
	"github.com/gridflow/gridflow/engine/hw/agentclient"
	"github.com/gridflow/gridflow/engine/hw/sim"
)

// nodeMap serves the files of named nodes, as the engine's drivers do.
func nodeMap(m map[string]hw.Files) NodeFiles {
	return func(_ context.Context, node string) (hw.Files, error) {
		if f, ok := m[node]; ok {
			return f, nil
		}
		return nil, hw.Errorf("files", node, hw.NotFound, "no node %q in the testbed", node)
	}
}

// simDriver simulates nodes with real bytes on disk, fast.
func simDriver(t *testing.T, nodes ...string) *sim.Driver {
	t.Helper()
	c := &testbed.Cluster{UID: "c", Site: "s", Driver: testbed.Driver{Kind: testbed.DriverSim, Sim: &testbed.SimConfig{CopyRate: 400e9}}}
	for _, n := range nodes {
		c.Nodes = append(c.Nodes, &testbed.Node{UID: n, Site: "s", Cluster: "c"})
	}
	d, err := sim.New(c, sim.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

const agentToken = "storage-test-token"

// startAgent serves a real agent on a loopback port and returns a client
// for it under the node uid node, and the agent's file area.
func startAgent(t testing.TB, node string) (*agentclient.Client, string) {
	t.Helper()
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	cfg := agent.Config{DataDir: dir, Token: agentToken, KillGrace: time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	go func() { done <- agent.Serve(ctx, l, cfg) }()
	c, err := agentclient.New(map[string]string{node: l.Addr().String()}, agentclient.Options{Token: agentToken, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		cancel()
		<-done
	})
	return c, filepath.Join(dir, "files")
}

func TestCopySimNodes(t *testing.T) {
	v := newEnv(t)
	d := simDriver(t, "n-1", "n-2")
	v.e.Nodes = nodeMap(map[string]hw.Files{"n-1": d, "n-2": d})
	testNodeCopies(t, v, d, "n-1", "n-2")
}

func TestCopyAgentNodes(t *testing.T) {
	v := newEnv(t)
	a1, area1 := startAgent(t, "a-1")
	a2, _ := startAgent(t, "a-2")
	v.e.Nodes = nodeMap(map[string]hw.Files{"a-1": a1, "a-2": a2})
	testNodeCopies(t, v, a1, "a-1", "a-2")

	// Canceled while the bytes flow to the agent: it keeps no file, not
	// even a temporary one.
	s := newSourceServer(t, randBytes(1<<20))
	ctx, cancel := context.WithCancel(context.Background())
	var seen = make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := v.e.Copy(ctx, CopyRequest{ID: "c", Sources: []URL{s.url(t, "/slow")}, Destination: mustParse(t, "node://a-1/cut/f"),
			Progress: func(int64) {}})
		done <- err
	}()
	go func() {
		// The agent has the directory once the upload started.
		eventually(t, "the upload to start", func() bool { _, err := os.Stat(filepath.Join(area1, "cut")); return err == nil })
		close(seen)
	}()
	<-seen
	cancel()
	err := <-done
	copyErr(t, err, PhaseTransfer, false, "canceled")
	eventually(t, "the agent to drop the upload", func() bool {
		entries, err := os.ReadDir(filepath.Join(area1, "cut"))
		return err == nil && len(entries) == 0
	})
	if _, _, err := v.e.Stat(context.Background(), mustParse(t, "node://a-1/cut/f"), ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a canceled upload was stored: %v", err)
	}
}

// testNodeCopies copies between the file root and nodes n1, n2 (whose
// files n1Files serves) in every direction, and fails in the ways that
// matter.
func testNodeCopies(t *testing.T, v *env, n1Files hw.Files, n1, n2 string) {
	ctx := context.Background()
	data := randBytes(3<<20 + 11)
	src := v.write("in/f", data)
	user := sumOf(t, checksum.Adler32, data)
	node := func(node, p string) URL { return mustParse(t, "node://"+node+"/"+p) }
	get := func(u URL) []byte {
		t.Helper()
		dl, err := n1Files.Get(ctx, u.Host, u.NodePath(), "")
		if errors.Is(err, hw.NotFound) {
			return nil
		}
		must(t, err)
		defer dl.Close()
		b, err := io.ReadAll(dl)
		must(t, err)
		return b
	}

	// file → node, with and without the user's checksum.
	for i, tc := range []struct {
		sum  checksum.Sum
		mode Verify
	}{{user, VerifyBoth}, {checksum.Sum{}, VerifyBoth}, {user, VerifySource}, {user, VerifyTarget}, {checksum.Sum{}, VerifyNone}} {
		dst := node(n1, "in/f"+string(rune('a'+i)))
		res, err := v.e.Copy(ctx, CopyRequest{ID: "f", Sources: []URL{src}, Destination: dst, Checksum: tc.sum, Verify: tc.mode, FileSize: int64(len(data))})
		if err != nil {
			t.Fatalf("file → node (%s, %q): %v", tc.sum, tc.mode, err)
		}
		algo := tc.sum.Algorithm
		if algo == "" {
			algo = DefaultAlgorithm
		}
		want := sumOf(t, algo, data).String()
		if res.Size != int64(len(data)) || res.SourceChecksum != want || res.DestChecksum != want || !bytes.Equal(get(dst), data) {
			t.Fatalf("file → node (%s, %q): %+v", tc.sum, tc.mode, res)
		}
	}

	// node → file and node → node, the node checking its own bytes.
	res, err := v.e.Copy(ctx, CopyRequest{ID: "g", Sources: []URL{node(n1, "in/fa")}, Destination: v.url("back/f"), Checksum: user, Verify: VerifyBoth})
	if err != nil || !bytes.Equal(v.read("back/f"), data) || res.DestChecksum != user.String() {
		t.Fatalf("node → file: %v %+v", err, res)
	}
	res, err = v.e.Copy(ctx, CopyRequest{ID: "h", Sources: []URL{node(n1, "in/nothing"), node(n1, "in/fa")}, Destination: node(n2, "out/f"), Verify: VerifyBoth})
	if err != nil || len(res.Attempts) != 1 || !strings.Contains(res.Attempts[0].Reason, "in/nothing") || res.Attempts[0].Retryable {
		t.Fatalf("node → node with failover: %v %+v", err, res)
	}
	size, sum, err := v.e.Stat(ctx, node(n2, "out/f"), checksum.Adler32)
	if err != nil || size != int64(len(data)) || sum != user {
		t.Fatalf("stat node: %v %d %s", err, size, sum)
	}

	// The wrong checksum: the node keeps what it had.
	old := []byte("old bytes")
	if _, err := n1Files.Put(ctx, n1, "keep/f", bytes.NewReader(old), hw.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	wrong := sumOf(t, checksum.Adler32, old)
	for _, mode := range []Verify{VerifySource, VerifyTarget, VerifyBoth} {
		_, err = v.e.Copy(ctx, CopyRequest{ID: "k", Sources: []URL{src}, Destination: node(n1, "keep/f"), Checksum: wrong, Verify: mode, Overwrite: true})
		copyErr(t, err, PhaseVerify, false, user.String(), wrong.String())
		if !bytes.Equal(get(node(n1, "keep/f")), old) {
			t.Fatalf("%s: the node's file changed", mode)
		}
	}
	// Overwrite rules.
	_, err = v.e.Copy(ctx, CopyRequest{ID: "k", Sources: []URL{src}, Destination: node(n1, "keep/f")})
	copyErr(t, err, PhaseDestination, false, "exists")
	if !errors.Is(err, ErrExists) || !bytes.Equal(get(node(n1, "keep/f")), old) {
		t.Fatalf("no overwrite: %v", err)
	}
	if _, err := v.e.Copy(ctx, CopyRequest{ID: "k", Sources: []URL{src}, Destination: node(n1, "keep/f"), Overwrite: true}); err != nil || !bytes.Equal(get(node(n1, "keep/f")), data) {
		t.Fatalf("overwrite: %v", err)
	}
	// A size that is not the expected one stores nothing.
	_, err = v.e.Copy(ctx, CopyRequest{ID: "k", Sources: []URL{src}, Destination: node(n1, "size/f"), FileSize: 5})
	copyErr(t, err, PhaseVerify, false, "expected size of 5")
	if get(node(n1, "size/f")) != nil {
		t.Fatal("a file of the wrong size was stored")
	}
	// Unknown node, missing file.
	_, err = v.e.Copy(ctx, CopyRequest{ID: "k", Sources: []URL{src}, Destination: node("ghost", "f")})
	copyErr(t, err, PhaseDestination, false, "ghost")
	_, err = v.e.Copy(ctx, CopyRequest{ID: "k", Sources: []URL{node("ghost", "f")}, Destination: v.url("x")})
	copyErr(t, err, PhaseSource, false, "ghost")
	_, _, err = v.e.Stat(ctx, node(n1, "none"), "")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("stat of a missing node file: %v", err)
	}
	// Remove, twice.
	must(t, v.e.Remove(ctx, node(n2, "out/f")))
	must(t, v.e.Remove(ctx, node(n2, "out/f")))
	if _, _, err := v.e.Stat(ctx, node(n2, "out/f"), ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removed file still there: %v", err)
	}
	v.noTemps()
}

// corruptFiles is a node that damages what it stores, to show that a copy
// verified "both" without a user checksum removes such a destination.
type corruptFiles struct{ hw.Files }

func (c corruptFiles) Put(ctx context.Context, node, path string, r io.Reader, opts hw.PutOptions) (hw.FileInfo, error) {
	return c.Files.Put(ctx, node, path, io.MultiReader(r, strings.NewReader("!")), opts)
}

func TestCopyNodeDamagesBytes(t *testing.T) {
	v := newEnv(t)
	d := simDriver(t, "n-1")
	v.e.Nodes = nodeMap(map[string]hw.Files{"n-1": corruptFiles{d}})
	src := v.write("in/f", randBytes(100<<10))
	_, err := v.e.Copy(context.Background(), CopyRequest{ID: "f", Sources: []URL{src}, Destination: mustParse(t, "node://n-1/f"), Verify: VerifyBoth})
	copyErr(t, err, PhaseVerify, true, "destination holds 102401 bytes where 102400 were sent", "removed")
	if _, err := d.Stat(context.Background(), "n-1", "f", ""); !errors.Is(err, hw.NotFound) {
		t.Fatalf("the damaged destination stayed: %v", err)
	}
	// Verified "none", nothing is compared.
	if _, err := v.e.Copy(context.Background(), CopyRequest{ID: "f", Sources: []URL{src}, Destination: mustParse(t, "node://n-1/f")}); err != nil {
		t.Fatal(err)
	}
}
