package storage

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gridflow/gridflow/agent"
	"github.com/gridflow/gridflow/agent/checksum"
	"github.com/gridflow/gridflow/engine/hw"
	"github.com/gridflow/gridflow/engine/hw/agentclient"
)

// watchedFiles is an agent's files whose downloads through the engine are
// counted, and whose exported URL can be replaced (a node the destination
// cannot reach, or a fake source).
type watchedFiles struct {
	*agentclient.Client
	gets   atomic.Int32
	export string // "": the agent's own URL
}

func (w *watchedFiles) Get(ctx context.Context, node, p, algo string) (hw.Download, error) {
	w.gets.Add(1)
	return w.Client.Get(ctx, node, p, algo)
}

func (w *watchedFiles) ExportFile(node, p string) (string, http.Header, error) {
	if w.export != "" {
		return w.export + "/v1/files/" + p, http.Header{"Authorization": {"Bearer x"}}, nil
	}
	return w.Client.ExportFile(node, p)
}

// oldAgent is an agent that cannot fetch files from another one.
type oldAgent struct{ *agentclient.Client }

func (oldAgent) PullFile(_ context.Context, node, _, _ string, _ http.Header, _ hw.PutOptions, _ int64, _ func(int64)) (agentclient.PullResult, error) {
	return agentclient.PullResult{}, hw.Errorf("pull file", node, hw.Unsupported, "agent answered 405: Method Not Allowed")
}

// fakeSource serves files as an agent would, misbehaving on purpose:
// "damaged" ends with a checksum trailer that is not its bytes', "slow"
// sends 64 KiB and then nothing until the request ends.
func fakeSource(t *testing.T, data []byte) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		algo := r.Header.Get(agent.HeaderChecksumAlgorithm)
		w.Header().Set(agent.HeaderSize, strconv.Itoa(len(data)))
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Trailer", agent.HeaderChecksum)
		switch path.Base(r.URL.Path) {
		case "damaged":
			w.Write(data)
			h, _ := checksum.NewHasher(algo)
			h.Write(data[1:])
			w.Header().Set(agent.HeaderChecksum, h.Sum(algo).String())
		case "slow":
			w.Write(data[:64<<10])
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// A copy between two agents goes from agent to agent: the destination
// fetches the file, checked against the source's checksum and the user's,
// and the engine never downloads it. What fails keeps the destination as
// it was and leaves no temporary file.
func TestThirdPartyCopy(t *testing.T) {
	v := newEnv(t)
	c1, area1 := startAgent(t, "a-1")
	c2, area2 := startAgent(t, "a-2")
	a1 := &watchedFiles{Client: c1}
	v.e.Nodes = nodeMap(map[string]hw.Files{"a-1": a1, "a-2": c2})
	ctx := context.Background()
	node := func(n, p string) URL { return mustParse(t, "node://"+n+"/"+p) }
	data := randBytes(5<<20 + 3)
	must(t, os.MkdirAll(filepath.Join(area1, "in"), 0o755))
	must(t, os.WriteFile(filepath.Join(area1, "in", "f"), data, 0o644))
	user := sumOf(t, checksum.Adler32, data)
	stored := func(p string) []byte {
		b, err := os.ReadFile(filepath.Join(area2, filepath.FromSlash(p)))
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		must(t, err)
		return b
	}
	noTemps := func() {
		t.Helper()
		eventually(t, "no temporary file on a-2", func() bool {
			found := false
			_ = filepath.WalkDir(area2, func(p string, d os.DirEntry, err error) error {
				found = found || err == nil && strings.Contains(d.Name(), ".gridflow-tmp-")
				return nil
			})
			return !found
		})
	}

	var last atomic.Int64
	res, err := v.e.Copy(ctx, CopyRequest{ID: "a", Sources: []URL{node("a-1", "in/f")}, Destination: node("a-2", "out/f"),
		Checksum: user, Verify: VerifyBoth, FileSize: int64(len(data)), Progress: last.Store})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stored("out/f"), data) || res.Size != int64(len(data)) || res.SourceChecksum != user.String() || res.DestChecksum != user.String() || last.Load() != int64(len(data)) {
		t.Fatalf("third-party copy: %+v, progress %d", res, last.Load())
	}
	if n := a1.gets.Load(); n != 0 {
		t.Fatalf("the engine downloaded the source %d times: the copy was not third-party", n)
	}
	// Without the user's checksum, verified "both": the source's and the
	// destination's checksums (the default algorithm) agree.
	res, err = v.e.Copy(ctx, CopyRequest{ID: "b", Sources: []URL{node("a-1", "in/f")}, Destination: node("a-2", "out/g"), Verify: VerifyBoth})
	if want := sumOf(t, DefaultAlgorithm, data).String(); err != nil || res.SourceChecksum != want || res.DestChecksum != want || !bytes.Equal(stored("out/g"), data) {
		t.Fatalf("without a checksum: %v %+v", err, res)
	}

	// The user's checksum is not the file's: the destination keeps its bytes.
	old := []byte("old bytes")
	must(t, os.WriteFile(filepath.Join(area2, "out", "keep"), old, 0o644))
	wrong := sumOf(t, checksum.Adler32, old)
	_, err = v.e.Copy(ctx, CopyRequest{ID: "c", Sources: []URL{node("a-1", "in/f")}, Destination: node("a-2", "out/keep"), Checksum: wrong, Verify: VerifyBoth, Overwrite: true})
	copyErr(t, err, PhaseVerify, false, wrong.String())
	if !errors.Is(err, ErrChecksumMismatch) || !bytes.Equal(stored("out/keep"), old) {
		t.Fatalf("a wrong checksum: %v; destination %q", err, stored("out/keep"))
	}
	// No overwrite, wrong size, missing source then a good one.
	_, err = v.e.Copy(ctx, CopyRequest{ID: "d", Sources: []URL{node("a-1", "in/f")}, Destination: node("a-2", "out/keep")})
	copyErr(t, err, PhaseDestination, false, "exists")
	_, err = v.e.Copy(ctx, CopyRequest{ID: "e", Sources: []URL{node("a-1", "in/f")}, Destination: node("a-2", "out/size"), FileSize: 5})
	copyErr(t, err, PhaseVerify, false, "expected size of 5")
	if stored("out/size") != nil {
		t.Fatal("a file of the wrong size was stored")
	}
	res, err = v.e.Copy(ctx, CopyRequest{ID: "f", Sources: []URL{node("a-1", "in/none"), node("a-1", "in/f")}, Destination: node("a-2", "out/h"), Checksum: user, Verify: VerifyBoth})
	if err != nil || len(res.Attempts) != 1 || !strings.Contains(res.Attempts[0].Reason, "in/none") || res.Attempts[0].Retryable || !bytes.Equal(stored("out/h"), data) {
		t.Fatalf("failover: %v %+v", err, res)
	}
	if n := a1.gets.Load(); n != 0 {
		t.Fatalf("the engine downloaded the source %d times", n)
	}

	// A destination that cannot reach the source: the engine carries the
	// bytes itself.
	a1.export = "http://127.0.0.1:1"
	if _, err := v.e.Copy(ctx, CopyRequest{ID: "g", Sources: []URL{node("a-1", "in/f")}, Destination: node("a-2", "out/i"), Checksum: user, Verify: VerifyBoth}); err != nil || !bytes.Equal(stored("out/i"), data) {
		t.Fatalf("fallback: %v", err)
	}
	if n := a1.gets.Load(); n != 1 {
		t.Fatalf("the fallback downloaded the source %d times, want 1", n)
	}
	// So does a destination agent that cannot fetch files (one that
	// predates third-party copies answers 405).
	v.e.Nodes = nodeMap(map[string]hw.Files{"a-1": a1, "a-2": oldAgent{c2}})
	if _, err := v.e.Copy(ctx, CopyRequest{ID: "g2", Sources: []URL{node("a-1", "in/f")}, Destination: node("a-2", "out/old"), Checksum: user, Verify: VerifyBoth}); err != nil || !bytes.Equal(stored("out/old"), data) || a1.gets.Load() != 2 {
		t.Fatalf("to an older agent: %v, %d downloads", err, a1.gets.Load())
	}
	v.e.Nodes = nodeMap(map[string]hw.Files{"a-1": a1, "a-2": c2})
	// So does ProxyNodeCopies.
	a1.export = ""
	v.e.ProxyNodeCopies = true
	if _, err := v.e.Copy(ctx, CopyRequest{ID: "h", Sources: []URL{node("a-1", "in/f")}, Destination: node("a-2", "out/j"), Checksum: user, Verify: VerifyBoth}); err != nil || !bytes.Equal(stored("out/j"), data) || a1.gets.Load() != 3 {
		t.Fatalf("proxied: %v, %d downloads", err, a1.gets.Load())
	}
	v.e.ProxyNodeCopies = false

	// Bytes damaged between the nodes: nothing stored, worth another try.
	fake := fakeSource(t, data)
	a1.export = fake.URL
	_, err = v.e.Copy(ctx, CopyRequest{ID: "i", Sources: []URL{node("a-1", "damaged")}, Destination: node("a-2", "out/damaged"), Verify: VerifyBoth})
	copyErr(t, err, PhaseVerify, true, "damaged", "nothing was stored")
	if stored("out/damaged") != nil {
		t.Fatal("damaged bytes were stored")
	}

	// A source that stalls: the copy gives up, retryable, and the
	// destination drops what it had.
	v.e.StallTimeout = 300 * time.Millisecond
	_, err = v.e.Copy(ctx, CopyRequest{ID: "j", Sources: []URL{node("a-1", "slow")}, Destination: node("a-2", "out/slow")})
	copyErr(t, err, PhaseTransfer, true, "no byte moved")
	v.e.StallTimeout = 0
	noTemps()

	// Canceled while the destination fetches: nothing stays.
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := v.e.Copy(cctx, CopyRequest{ID: "k", Sources: []URL{node("a-1", "slow")}, Destination: node("a-2", "cut/f")})
		done <- err
	}()
	eventually(t, "the fetch to start", func() bool { _, err := os.Stat(filepath.Join(area2, "cut")); return err == nil })
	cancel()
	copyErr(t, <-done, PhaseTransfer, false, "canceled")
	noTemps()
	if stored("cut/f") != nil {
		t.Fatal("a canceled copy was stored")
	}
}
