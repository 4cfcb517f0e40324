package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gridflow/gridflow/agent/checksum"
)

func TestCopyFileToFile(t *testing.T) {
	v := newEnv(t)
	data := randBytes(5<<20 + 3) // several buffers and a partial one
	src := v.write("in/data.bin", data)
	for _, algo := range []string{"", checksum.Adler32, checksum.MD5, checksum.SHA256} {
		for _, mode := range []Verify{"", VerifyNone, VerifySource, VerifyTarget, VerifyBoth} {
			var user checksum.Sum
			if algo != "" {
				user = sumOf(t, algo, data)
			} else if mode == VerifySource || mode == VerifyTarget {
				continue
			}
			name := fmt.Sprintf("out/%s-%s/data.bin", algo, string(mode))
			var calls []int64
			res, err := v.e.Copy(context.Background(), CopyRequest{
				ID: "f1", Sources: []URL{src}, Destination: v.url(name), Checksum: user, Verify: mode,
				FileSize: int64(len(data)), Progress: func(n int64) { calls = append(calls, n) },
			})
			if err != nil {
				t.Fatalf("%s %s: %v", algo, mode, err)
			}
			if !bytes.Equal(v.read(name), data) {
				t.Fatalf("%s %s: the destination's bytes differ", algo, mode)
			}
			wantAlgo := algo
			if wantAlgo == "" {
				wantAlgo = DefaultAlgorithm
			}
			want := sumOf(t, wantAlgo, data).String()
			if res.Source != src || res.Size != int64(len(data)) || res.SourceChecksum != want || res.DestChecksum != want || res.Duration <= 0 || len(res.Attempts) != 0 {
				t.Fatalf("%s %s: result %+v, want checksums %s", algo, mode, res, want)
			}
			if len(calls) == 0 || calls[len(calls)-1] != int64(len(data)) {
				t.Fatalf("%s %s: progress calls %v", algo, mode, calls)
			}
		}
	}
	// An empty file is a file.
	empty := v.write("in/empty", nil)
	res, err := v.e.Copy(context.Background(), CopyRequest{ID: "e", Sources: []URL{empty}, Destination: v.url("out/empty"), Verify: VerifyBoth})
	if err != nil || res.Size != 0 || res.DestChecksum != sumOf(t, DefaultAlgorithm, nil).String() {
		t.Fatalf("empty file: %v %+v", err, res)
	}
	if fi, err := os.Stat(filepath.Join(v.root, "out/empty")); err != nil || fi.Size() != 0 {
		t.Fatalf("empty destination: %v", err)
	}
	v.noTemps()
}

func TestCopyOptionsInvalid(t *testing.T) {
	v := newEnv(t)
	src := v.write("in/f", []byte("hello"))
	for _, tc := range []struct {
		req   CopyRequest
		phase string
		says  string
	}{
		{CopyRequest{Sources: []URL{src}, Destination: v.url("o"), Verify: VerifySource}, PhaseVerify, "has none"},
		{CopyRequest{Sources: []URL{src}, Destination: v.url("o"), Verify: VerifyTarget}, PhaseVerify, "has none"},
		{CopyRequest{Sources: []URL{src}, Destination: v.url("o"), Verify: "sometimes"}, PhaseVerify, "unknown mode"},
		{CopyRequest{Sources: []URL{src}, Destination: v.url("o"), Checksum: checksum.Sum{Algorithm: "crc32", Hex: "00"}}, PhaseVerify, "unknown checksum algorithm"},
		{CopyRequest{Sources: []URL{src}, Destination: v.url("o"), Checksum: checksum.Sum{Algorithm: "adler32", Hex: "0102"}}, PhaseVerify, "8 hex digits"},
		{CopyRequest{Sources: []URL{src}, Destination: v.url("o"), FileSize: -1}, PhaseVerify, "negative"},
		{CopyRequest{Destination: v.url("o")}, PhaseSource, "no source"},
		{CopyRequest{Sources: []URL{src}}, PhaseDestination, "no destination"},
	} {
		_, err := v.e.Copy(context.Background(), tc.req)
		copyErr(t, err, tc.phase, false, tc.says)
		if !IsInvalid(err) {
			t.Errorf("%q is not IsInvalid", err)
		}
	}
	// Refused destinations.
	_, err := v.e.Copy(context.Background(), CopyRequest{Sources: []URL{src}, Destination: mustParse(t, "http://127.0.0.1/x")})
	copyErr(t, err, PhaseDestination, false, "only be sources")
	if !IsForbidden(err) {
		t.Errorf("http destination: %v is not IsForbidden", err)
	}
	_, err = v.e.Copy(context.Background(), CopyRequest{Sources: []URL{src}, Destination: mustParse(t, "file:///etc/gridflow-test")})
	copyErr(t, err, PhaseDestination, false, "not under an allowed file root")
	if !IsForbidden(err) {
		t.Errorf("destination outside the roots: %v is not IsForbidden", err)
	}
	if v.read("o") != nil {
		t.Fatal("a refused copy wrote its destination")
	}
}

func TestCopyChecksumMismatch(t *testing.T) {
	v := newEnv(t)
	data := randBytes(3<<20 + 17)
	src := v.write("in/f", data)
	old := []byte("the destination as it was")
	v.write("out/f", old)
	wrong := sumOf(t, checksum.Adler32, []byte("other bytes"))
	right := sumOf(t, checksum.Adler32, data)
	for _, mode := range []Verify{VerifySource, VerifyTarget, VerifyBoth} {
		_, err := v.e.Copy(context.Background(), CopyRequest{ID: "f1", Sources: []URL{src}, Destination: v.url("out/f"), Checksum: wrong, Verify: mode, Overwrite: true})
		ce := copyErr(t, err, PhaseVerify, false, right.String(), wrong.String())
		if !errors.Is(err, ErrChecksumMismatch) || len(ce.Attempts) != 1 {
			t.Fatalf("%s: %v, attempts %+v", mode, err, ce.Attempts)
		}
		if !bytes.Equal(v.read("out/f"), old) {
			t.Fatalf("%s: the destination changed", mode)
		}
		v.noTemps()
	}
	// verify none compares nothing.
	res, err := v.e.Copy(context.Background(), CopyRequest{ID: "f1", Sources: []URL{src}, Destination: v.url("out/f"), Checksum: wrong, Verify: VerifyNone, Overwrite: true})
	if err != nil || res.SourceChecksum != right.String() || !bytes.Equal(v.read("out/f"), data) {
		t.Fatalf("verify none: %v %+v", err, res)
	}
}

func TestCopyOverwrite(t *testing.T) {
	v := newEnv(t)
	data := randBytes(1 << 20)
	src := v.write("in/f", data)
	old := []byte("old")
	v.write("out/f", old)
	_, err := v.e.Copy(context.Background(), CopyRequest{ID: "f1", Sources: []URL{src}, Destination: v.url("out/f")})
	copyErr(t, err, PhaseDestination, false, "destination exists")
	if !errors.Is(err, ErrExists) || !bytes.Equal(v.read("out/f"), old) {
		t.Fatalf("no overwrite: %v", err)
	}
	if _, err := v.e.Copy(context.Background(), CopyRequest{ID: "f1", Sources: []URL{src}, Destination: v.url("out/f"), Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(v.read("out/f"), data) {
		t.Fatal("overwrite: the destination was not replaced")
	}
	// A directory is never replaced.
	must(t, os.MkdirAll(filepath.Join(v.root, "out/dir"), 0o755))
	_, err = v.e.Copy(context.Background(), CopyRequest{ID: "f1", Sources: []URL{src}, Destination: v.url("out/dir"), Overwrite: true})
	copyErr(t, err, PhaseDestination, false, "is a directory")
	// A file where a parent directory should be.
	_, err = v.e.Copy(context.Background(), CopyRequest{ID: "f1", Sources: []URL{src}, Destination: v.url("out/f/sub")})
	copyErr(t, err, PhaseDestination, false, "is a file")
	v.noTemps()
}

// A destination that appears while the bytes move is not replaced: the
// commit is atomic.
func TestCopyOverwriteRace(t *testing.T) {
	v := newEnv(t)
	data := randBytes(256 << 10)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data[:1000])
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.Write(data[1000:])
	}))
	defer srv.Close()
	done := make(chan error, 1)
	go func() {
		_, err := v.e.Copy(context.Background(), CopyRequest{ID: "f1", Sources: []URL{mustParse(t, srv.URL+"/f")}, Destination: v.url("out/f")})
		done <- err
	}()
	tmp := filepath.Join(v.root, "out", tempName("f", "f1"))
	eventually(t, "the temporary file", func() bool { fi, err := os.Stat(tmp); return err == nil && fi.Size() >= 1000 })
	planted := []byte("written by someone else meanwhile")
	v.write("out/f", planted)
	close(release)
	err := <-done
	copyErr(t, err, PhaseDestination, false, "destination exists")
	if !bytes.Equal(v.read("out/f"), planted) {
		t.Fatal("the file that appeared during the copy was replaced")
	}
	v.noTemps()
}

// source serves test files over HTTP.
type sourceServer struct {
	*httptest.Server
	data    []byte
	flaky   atomic.Int32
	release chan struct{}
}

func newSourceServer(t *testing.T, data []byte) *sourceServer {
	s := &sourceServer{data: data, release: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/data", func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "data", time.Time{}, bytes.NewReader(s.data))
	})
	mux.HandleFunc("/flaky", func(w http.ResponseWriter, r *http.Request) {
		if s.flaky.Add(1) == 1 {
			http.Error(w, "overloaded", http.StatusInternalServerError)
			return
		}
		http.ServeContent(w, r, "data", time.Time{}, bytes.NewReader(s.data))
	})
	mux.HandleFunc("/missing", http.NotFound)
	mux.HandleFunc("/denied", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusForbidden) })
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		// No Content-Length: the size is known only at the end.
		for i := 0; i < len(s.data); i += 100 << 10 {
			w.Write(s.data[i:min(i+100<<10, len(s.data))])
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/short", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(s.data)))
		w.Write(s.data[:len(s.data)/2])
		// The handler returns early: the server closes the connection.
	})
	mux.HandleFunc("/gzip", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(s.data)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		// Some bytes, then nothing until released or abandoned.
		w.Header().Set("Content-Length", strconv.Itoa(len(s.data)))
		w.Write(s.data[:64<<10])
		w.(http.Flusher).Flush()
		select {
		case <-s.release:
			w.Write(s.data[64<<10:])
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/data", http.StatusFound)
	})
	mux.HandleFunc("/redirect-out", func(w http.ResponseWriter, r *http.Request) {
		// localhost is the same server under a name the policy does not allow.
		http.Redirect(w, r, strings.Replace(s.URL, "127.0.0.1", "localhost", 1)+"/data", http.StatusFound)
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(func() {
		close(s.release)
		s.Close()
	})
	return s
}

func (s *sourceServer) url(t testing.TB, p string) URL { return mustParse(t, s.URL+p) }

func TestCopyHTTP(t *testing.T) {
	v := newEnv(t)
	data := randBytes(2<<20 + 5)
	s := newSourceServer(t, data)
	ctx := context.Background()
	user := sumOf(t, checksum.MD5, data)

	for _, p := range []string{"/data", "/chunked", "/redirect"} {
		res, err := v.e.Copy(ctx, CopyRequest{ID: "f", Sources: []URL{s.url(t, p)}, Destination: v.url("out" + p), Checksum: user, Verify: VerifyBoth, FileSize: int64(len(data))})
		if err != nil || !bytes.Equal(v.read("out"+p), data) || res.SourceChecksum != user.String() || res.DestChecksum != user.String() {
			t.Fatalf("%s: %v %+v", p, err, res)
		}
	}

	// 500, then 200: the first try fails retryably, the retry succeeds.
	_, err := v.e.Copy(ctx, CopyRequest{ID: "fl", Sources: []URL{s.url(t, "/flaky")}, Destination: v.url("out/flaky")})
	copyErr(t, err, PhaseSource, true, "500 Internal Server Error")
	if _, err := v.e.Copy(ctx, CopyRequest{ID: "fl", Sources: []URL{s.url(t, "/flaky")}, Destination: v.url("out/flaky")}); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if !bytes.Equal(v.read("out/flaky"), data) {
		t.Fatal("retry: wrong bytes")
	}

	for _, tc := range []struct {
		path      string
		phase     string
		retryable bool
		says      string
	}{
		{"/missing", PhaseSource, false, "404 Not Found"},
		{"/denied", PhaseSource, false, "403 Forbidden"},
		{"/short", PhaseTransfer, true, fmt.Sprintf("of %d bytes", len(data))},
		{"/gzip", PhaseSource, false, "Content-Encoding: gzip"},
		{"/redirect-out", PhaseSource, false, "redirected to"},
	} {
		_, err := v.e.Copy(ctx, CopyRequest{ID: "x", Sources: []URL{s.url(t, tc.path)}, Destination: v.url("out/bad")})
		copyErr(t, err, tc.phase, tc.retryable, tc.says)
		if v.read("out/bad") != nil {
			t.Fatalf("%s: a destination was written", tc.path)
		}
	}
	_, err = v.e.Copy(ctx, CopyRequest{ID: "x", Sources: []URL{s.url(t, "/missing")}, Destination: v.url("out/bad")})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("404 is not ErrNotFound: %v", err)
	}
	// A server that refuses connections.
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	_, err = v.e.Copy(ctx, CopyRequest{ID: "x", Sources: []URL{mustParse(t, closed.URL+"/f")}, Destination: v.url("out/bad")})
	copyErr(t, err, PhaseSource, true, "cannot fetch")
	v.noTemps()
}

func TestCopyFailover(t *testing.T) {
	v := newEnv(t)
	data := randBytes(1<<20 + 1)
	s := newSourceServer(t, data)
	good := v.write("in/good", data)
	wrong := v.write("in/wrong", randBytes(len(data)))
	user := sumOf(t, checksum.SHA256, data)
	sources := []URL{
		v.url("in/missing"),
		mustParse(t, "file:///etc/hostname"),
		s.url(t, "/missing"),
		wrong, // the wrong bytes: the next source may have the right ones
		good,
	}
	res, err := v.e.Copy(context.Background(), CopyRequest{ID: "f", Sources: sources, Destination: v.url("out/f"), Checksum: user, Verify: VerifyBoth})
	if err != nil {
		t.Fatal(err)
	}
	if res.Source != good || !bytes.Equal(v.read("out/f"), data) || len(res.Attempts) != 4 {
		t.Fatalf("result %+v", res)
	}
	for i, want := range []string{"no such file", "not under an allowed file root", "404 Not Found", "not the file's checksum"} {
		a := res.Attempts[i]
		if a.Source != sources[i].String() || !strings.Contains(a.Reason, want) || a.Retryable {
			t.Errorf("attempt %d: %+v, want %q", i, a, want)
		}
	}

	// All fail: the reason lists each; one retryable failure makes it retryable.
	_, err = v.e.Copy(context.Background(), CopyRequest{ID: "f", Sources: sources[:3], Destination: v.url("out/g")})
	ce := copyErr(t, err, PhaseSource, false, "all 3 sources failed", sources[0].String(), "no such file", "not under an allowed file root", "404")
	if len(ce.Attempts) != 3 || !errors.Is(err, ErrNotFound) || !IsForbidden(err) {
		t.Fatalf("all failed: %+v", ce)
	}
	s.flaky.Store(0)
	_, err = v.e.Copy(context.Background(), CopyRequest{ID: "f", Sources: []URL{v.url("in/missing"), s.url(t, "/flaky")}, Destination: v.url("out/g")})
	copyErr(t, err, PhaseSource, true, "all 2 sources failed", "500")
	// Not the source's fault: a destination that exists stops at once.
	_, err = v.e.Copy(context.Background(), CopyRequest{ID: "f", Sources: []URL{good, good}, Destination: v.url("out/f")})
	if ce := copyErr(t, err, PhaseDestination, false, "exists"); len(ce.Attempts) != 0 {
		t.Fatalf("attempts %+v", ce.Attempts)
	}
	v.noTemps()
}

func TestCopyFileSize(t *testing.T) {
	v := newEnv(t)
	data := randBytes(300 << 10)
	s := newSourceServer(t, data)
	src := v.write("in/f", data)
	for _, u := range []URL{src, s.url(t, "/data"), s.url(t, "/chunked")} {
		_, err := v.e.Copy(context.Background(), CopyRequest{ID: "f", Sources: []URL{u}, Destination: v.url("out/f"), FileSize: int64(len(data)) + 1})
		copyErr(t, err, PhaseVerify, false, fmt.Sprintf("has %d bytes", len(data)), fmt.Sprintf("expected size of %d", len(data)+1))
		if !errors.Is(err, ErrSizeMismatch) || v.read("out/f") != nil {
			t.Fatalf("%s: %v", u, err)
		}
	}
	v.noTemps()
}

func TestCopyCancel(t *testing.T) {
	v := newEnv(t)
	s := newSourceServer(t, randBytes(1<<20))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := v.e.Copy(ctx, CopyRequest{ID: "f7", Sources: []URL{s.url(t, "/slow")}, Destination: v.url("out/f")})
		done <- err
	}()
	tmp := filepath.Join(v.root, "out", tempName("f", "f7"))
	eventually(t, "bytes in the temporary file", func() bool { fi, err := os.Stat(tmp); return err == nil && fi.Size() == 64<<10 })
	start := time.Now()
	cancel()
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the copy did not stop")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("stopping took %s", d)
	}
	copyErr(t, err, PhaseTransfer, false, "canceled")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("%v is not context.Canceled", err)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Fatalf("temporary file left: %v", err)
	}
	if v.read("out/f") != nil {
		t.Fatal("a destination was written")
	}
	v.noTemps()

	// Canceled before it starts.
	_, err = v.e.Copy(ctx, CopyRequest{ID: "f7", Sources: []URL{v.write("in/f", []byte("x"))}, Destination: v.url("out/f")})
	if !errors.Is(err, context.Canceled) || Retryable(err) {
		t.Fatalf("canceled context: %v", err)
	}
}

func TestCopyStall(t *testing.T) {
	v := newEnv(t)
	v.e.StallTimeout = 300 * time.Millisecond
	data := randBytes(1 << 20)
	s := newSourceServer(t, data)
	good := v.write("in/f", data)
	res, err := v.e.Copy(context.Background(), CopyRequest{ID: "s", Sources: []URL{s.url(t, "/slow"), good}, Destination: v.url("out/f")})
	if err != nil || res.Source != good || len(res.Attempts) != 1 || !res.Attempts[0].Retryable || !strings.Contains(res.Attempts[0].Reason, "no byte moved for 300ms") {
		t.Fatalf("stall then failover: %v %+v", err, res)
	}
	_, err = v.e.Copy(context.Background(), CopyRequest{ID: "s", Sources: []URL{s.url(t, "/slow")}, Destination: v.url("out/g")})
	copyErr(t, err, PhaseTransfer, true, "stalled")
	v.noTemps()
}

func TestCopyStaleTemp(t *testing.T) {
	v := newEnv(t)
	src := v.write("in/f", []byte("fresh"))
	stale := filepath.Join(v.root, "out", tempName("f", "job1-file3"))
	v.write(filepath.Join("out", tempName("f", "job1-file3")), []byte("left by a crashed attempt"))
	if _, err := v.e.Copy(context.Background(), CopyRequest{ID: "job1-file3", Sources: []URL{src}, Destination: v.url("out/f")}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) || string(v.read("out/f")) != "fresh" {
		t.Fatalf("stale temporary file: %v", err)
	}
	// Cleanup removes what a lost worker left.
	v.write(filepath.Join("out", tempName("g", "job1-file4")), []byte("partial"))
	must(t, v.e.Cleanup(context.Background(), v.url("out/g"), "job1-file4"))
	must(t, v.e.Cleanup(context.Background(), v.url("out/g"), "job1-file4"))
	v.noTemps()
}

func TestTempName(t *testing.T) {
	for _, tc := range []struct{ name, id string }{
		{"f", "a1"}, {"data.csv", "0b4e7a1c-5f0e-5d3e-9a9e-1b6c2d3e4f50"}, {"f", "has/slash and space"},
		{strings.Repeat("n", 255), "id"}, {strings.Repeat("é", 127), strings.Repeat("x", 200)},
	} {
		got := tempName(tc.name, tc.id)
		if len(got) > nameMax || strings.ContainsAny(got, "/\x00") || !isTempName(got) || got != tempName(tc.name, tc.id) {
			t.Errorf("tempName(%q, %q) = %q", tc.name, tc.id, got)
		}
	}
	if a, b := tempName("f", ""), tempName("f", ""); a == b {
		t.Error("copies without an id share a temporary name")
	}
	if tempName("f", "a") == tempName("f", "b") {
		t.Error("two ids share a temporary name")
	}
}

func TestCopySourceNotAFile(t *testing.T) {
	v := newEnv(t)
	must(t, os.MkdirAll(filepath.Join(v.root, "in/dir"), 0o755))
	_, err := v.e.Copy(context.Background(), CopyRequest{ID: "f", Sources: []URL{v.url("in/dir")}, Destination: v.url("out/f")})
	copyErr(t, err, PhaseSource, false, "is a directory")
	fifo := filepath.Join(v.root, "in/fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("no FIFO: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := v.e.Copy(context.Background(), CopyRequest{ID: "f", Sources: []URL{v.url("in/fifo")}, Destination: v.url("out/f")})
		done <- err
	}()
	select {
	case err = <-done:
		copyErr(t, err, PhaseSource, false, "not a regular file")
	case <-time.After(10 * time.Second):
		t.Fatal("a FIFO source hangs the copy")
	}
}

func TestStatAndRemove(t *testing.T) {
	v := newEnv(t)
	data := randBytes(100<<10 + 1)
	s := newSourceServer(t, data)
	ctx := context.Background()
	u := v.write("in/f", data)
	size, sum, err := v.e.Stat(ctx, u, checksum.Adler32)
	if err != nil || size != int64(len(data)) || sum != sumOf(t, checksum.Adler32, data) {
		t.Fatalf("stat file: %v %d %s", err, size, sum)
	}
	size, sum, err = v.e.Stat(ctx, u, "")
	if err != nil || size != int64(len(data)) || !sum.IsZero() {
		t.Fatalf("stat file without checksum: %v %d %s", err, size, sum)
	}
	size, sum, err = v.e.Stat(ctx, s.url(t, "/data"), checksum.SHA256)
	if err != nil || size != int64(len(data)) || !sum.IsZero() {
		t.Fatalf("stat http: %v %d %s", err, size, sum)
	}
	_, _, err = v.e.Stat(ctx, s.url(t, "/missing"), "")
	copyErr(t, err, PhaseSource, false, "404")
	_, _, err = v.e.Stat(ctx, v.url("in/none"), "")
	copyErr(t, err, PhaseSource, false, "no such file")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing file: %v", err)
	}
	_, _, err = v.e.Stat(ctx, u, "crc32")
	copyErr(t, err, PhaseSource, false, "unknown checksum algorithm")

	must(t, v.e.Remove(ctx, u))
	if v.read("in/f") != nil {
		t.Fatal("not removed")
	}
	must(t, v.e.Remove(ctx, u)) // missing: no error
	must(t, v.e.Remove(ctx, v.url("in/nodir/f")))
	err = v.e.Remove(ctx, v.url("in"))
	copyErr(t, err, PhaseDestination, false, "is a directory")
	err = v.e.Remove(ctx, s.url(t, "/data"))
	if !IsForbidden(err) {
		t.Fatalf("removing an http URL: %v", err)
	}
}

// Two attempts of the same copy at once (a retried activity whose first
// attempt still runs): the later one takes over the temporary name, and
// the earlier one cannot commit what is no longer its own.
func TestCopySameIDConcurrently(t *testing.T) {
	v := newEnv(t)
	slow := newSourceServer(t, randBytes(1<<20))
	fresh := randBytes(1 << 20)
	src := v.write("in/f", fresh)
	done := make(chan error, 1)
	go func() {
		_, err := v.e.Copy(context.Background(), CopyRequest{ID: "same", Sources: []URL{slow.url(t, "/slow")}, Destination: v.url("out/f"), Overwrite: true})
		done <- err
	}()
	tmp := filepath.Join(v.root, "out", tempName("f", "same"))
	eventually(t, "the first attempt's bytes", func() bool { fi, err := os.Stat(tmp); return err == nil && fi.Size() == 64<<10 })
	if _, err := v.e.Copy(context.Background(), CopyRequest{ID: "same", Sources: []URL{src}, Destination: v.url("out/f"), Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	slow.release <- struct{}{}
	err := <-done
	copyErr(t, err, PhaseDestination, true, "another attempt")
	if !bytes.Equal(v.read("out/f"), fresh) {
		t.Fatal("the earlier attempt replaced the later one's file")
	}
	v.noTemps()
}
