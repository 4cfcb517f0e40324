package agent

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/adler32"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sha256Of(b []byte) string { s := sha256.Sum256(b); return "sha256:" + hex.EncodeToString(s[:]) }

// leftovers lists the entries of the file area whose names show an upload
// that was not cleaned up.
func leftovers(t *testing.T, dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), tmpMarker) {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func TestFilePutGetHeadDelete(t *testing.T) {
	ta := newTestAgent(t, nil)
	data := make([]byte, 3<<20+17) // several buffers, not a round size
	rand.Read(data)
	sum := sha256Of(data)

	resp := ta.do(http.MethodPut, "/v1/files/results/run-1/data.bin", bytes.NewReader(data), HeaderChecksum, sum, HeaderChecksumAlgorithm, "md5,adler32")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("put: %d %s", resp.StatusCode, readAll(t, resp))
	}
	md := md5.Sum(data)
	got := resp.Header.Values(HeaderChecksum)
	want := []string{"md5:" + hex.EncodeToString(md[:]), fmt.Sprintf("adler32:%08x", adler32.Checksum(data)), sum}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("put checksums %v, want %v", got, want)
	}
	resp.Body.Close()
	onDisk, err := os.ReadFile(filepath.Join(ta.dir, "files", "results", "run-1", "data.bin"))
	if err != nil || !bytes.Equal(onDisk, data) {
		t.Fatalf("stored bytes differ (err %v)", err)
	}

	// GET streams the bytes and ends with the checksum trailer.
	resp = ta.do(http.MethodGet, "/v1/files/results/run-1/data.bin", nil)
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
		t.Fatalf("get: %d, %d bytes", resp.StatusCode, len(body))
	}
	if tr := resp.Trailer.Get(HeaderChecksum); tr != sum {
		t.Fatalf("trailer %q, want %q", tr, sum)
	}
	if resp.Header.Get(HeaderSize) != fmt.Sprint(len(data)) {
		t.Fatalf("size header %q", resp.Header.Get(HeaderSize))
	}

	// HEAD gives the checksum asked for as a header.
	resp = ta.do(http.MethodHead, "/v1/files/results/run-1/data.bin", nil, HeaderChecksumAlgorithm, "adler32")
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get(HeaderChecksum) != want[1] || resp.ContentLength != int64(len(data)) {
		t.Fatalf("head: %d %q %d", resp.StatusCode, resp.Header.Get(HeaderChecksum), resp.ContentLength)
	}

	// Replacing is allowed, unless If-None-Match: * says otherwise.
	resp = ta.do(http.MethodPut, "/v1/files/results/run-1/data.bin", strings.NewReader("v2"))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("replace: %d", resp.StatusCode)
	}
	resp = ta.do(http.MethodPut, "/v1/files/results/run-1/data.bin", strings.NewReader("v3"), "If-None-Match", "*")
	if p := problem(t, resp); resp.StatusCode != http.StatusPreconditionFailed || p.Code != CodeExists {
		t.Fatalf("no-clobber put: %d %+v", resp.StatusCode, p)
	}

	// A directory lists its entries.
	var list []FileInfo
	if st := ta.call(http.MethodGet, "/v1/files/results/run-1", nil, &list); st != http.StatusOK || len(list) != 1 || list[0].Path != "results/run-1/data.bin" || list[0].Size != 2 {
		t.Fatalf("listing: %d %+v", st, list)
	}

	resp = ta.do(http.MethodDelete, "/v1/files/results", nil)
	if p := problem(t, resp); resp.StatusCode != http.StatusConflict {
		t.Fatalf("delete non-empty directory: %d %+v", resp.StatusCode, p)
	}
	resp = ta.do(http.MethodDelete, "/v1/files/results/run-1/data.bin", nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	resp = ta.do(http.MethodGet, "/v1/files/results/run-1/data.bin", nil)
	if p := problem(t, resp); resp.StatusCode != http.StatusNotFound || p.Code != CodeNotFound {
		t.Fatalf("get deleted: %d %+v", resp.StatusCode, p)
	}
	resp = ta.do(http.MethodDelete, "/v1/files/results?recursive=true", nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("recursive delete: %d", resp.StatusCode)
	}
}

func TestFilePutChecksumMismatchStoresNothing(t *testing.T) {
	ta := newTestAgent(t, nil)
	data := []byte("the real bytes")
	for _, sum := range []string{
		sha256Of([]byte("other bytes")),
		"md5:00000000000000000000000000000000",
		"adler32:00000000",
	} {
		resp := ta.do(http.MethodPut, "/v1/files/dir/f.txt", bytes.NewReader(data), HeaderChecksum, sum)
		p := problem(t, resp)
		if resp.StatusCode != http.StatusUnprocessableEntity || p.Code != CodeChecksumMismatch || !strings.Contains(p.Detail, sum) {
			t.Fatalf("%s: %d %+v", sum, resp.StatusCode, p)
		}
	}
	if _, err := os.Stat(filepath.Join(ta.dir, "files", "dir", "f.txt")); !os.IsNotExist(err) {
		t.Fatalf("file left after a mismatch: %v", err)
	}
	if l := leftovers(t, ta.dir); len(l) > 0 {
		t.Fatalf("temporary files left: %v", l)
	}
	// A mismatch does not destroy the file already there either.
	resp := ta.do(http.MethodPut, "/v1/files/dir/f.txt", bytes.NewReader(data), HeaderChecksum, sha256Of(data))
	resp.Body.Close()
	resp = ta.do(http.MethodPut, "/v1/files/dir/f.txt", strings.NewReader("corrupt"), HeaderChecksum, sha256Of(data))
	resp.Body.Close()
	if b, _ := os.ReadFile(filepath.Join(ta.dir, "files", "dir", "f.txt")); !bytes.Equal(b, data) {
		t.Fatalf("a rejected upload replaced the file: %q", b)
	}
	for _, bad := range []string{"sha256:xyz", "crc32:00000000", "nocolon"} {
		resp := ta.do(http.MethodPut, "/v1/files/dir/g.txt", bytes.NewReader(data), HeaderChecksum, bad)
		if p := problem(t, resp); resp.StatusCode != http.StatusBadRequest || p.Code != CodeInvalid {
			t.Errorf("checksum %q: %d %+v", bad, resp.StatusCode, p)
		}
	}
}

func TestFilePathsCannotLeaveTheFileArea(t *testing.T) {
	ta := newTestAgent(t, nil)
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	files := filepath.Join(ta.dir, "files")
	must(t, os.Symlink(outside, filepath.Join(files, "out")))
	must(t, os.Symlink(filepath.Join(outside, "secret"), filepath.Join(files, "secret-link")))
	must(t, os.Symlink("../../", filepath.Join(files, "up")))
	must(t, os.MkdirAll(filepath.Join(files, "real"), 0o755))
	must(t, os.WriteFile(filepath.Join(files, "real", "ok.txt"), []byte("ok"), 0o644))
	must(t, os.Symlink("real", filepath.Join(files, "inside")))

	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/v1/files/../state.json", http.StatusBadRequest},
		{http.MethodGet, "/v1/files/real/../../state.json", http.StatusBadRequest},
		{http.MethodGet, "/v1/files/%2e%2e/state.json", http.StatusBadRequest},
		{http.MethodGet, "/v1/files/%2E%2E%2Fstate.json", http.StatusBadRequest},
		{http.MethodGet, "/v1/files/..%2F..%2Fetc%2Fpasswd", http.StatusBadRequest},
		{http.MethodGet, "/v1/files//etc/passwd", http.StatusBadRequest},
		{http.MethodGet, "/v1/files/%2Fetc%2Fpasswd", http.StatusBadRequest},
		{http.MethodGet, "/v1/files/./real/ok.txt", http.StatusBadRequest},
		{http.MethodPut, "/v1/files/../evil", http.StatusBadRequest},
		{http.MethodPut, "/v1/files/%2e%2e/evil", http.StatusBadRequest},
		{http.MethodPut, "/v1/files/%2Ftmp%2Fevil", http.StatusBadRequest},
		{http.MethodDelete, "/v1/files/%2e%2e/state.json", http.StatusBadRequest},
		{http.MethodGet, "/v1/files/out/secret", http.StatusForbidden},
		{http.MethodGet, "/v1/files/secret-link", http.StatusForbidden},
		{http.MethodHead, "/v1/files/up/state.json", http.StatusForbidden},
		{http.MethodPut, "/v1/files/out/planted", http.StatusForbidden},
		{http.MethodPut, "/v1/files/out/sub/planted", http.StatusForbidden},
		{http.MethodPut, "/v1/files/up/planted", http.StatusForbidden},
		{http.MethodGet, "/v1/files/inside/ok.txt", http.StatusOK}, // a link that stays inside is fine
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			resp := ta.do(tc.method, tc.path, strings.NewReader("x"))
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
	for _, name := range []string{"planted", "sub", "evil"} {
		if _, err := os.Stat(filepath.Join(outside, name)); err == nil {
			t.Errorf("%s was created outside the file area", name)
		}
	}
	for _, p := range []string{filepath.Join(ta.dir, "planted"), filepath.Join(ta.dir, "evil"), "/tmp/evil"} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was created", p)
		}
	}
	if l := leftovers(t, ta.dir); len(l) > 0 {
		t.Fatalf("temporary files left: %v", l)
	}
}

func TestCleanFilePath(t *testing.T) {
	for p, ok := range map[string]bool{
		"a": true, "a/b.txt": true, "a b/c": true, "..a": true, "a..": true,
		"": false, "/a": false, "a/../b": false, "..": false, "a/.": false, "a//b": false, "a/": false,
		"a\x00b": false, "x/" + tmpMarker + "1": false,
	} {
		if _, err := cleanFilePath(p); (err == nil) != ok {
			t.Errorf("cleanFilePath(%q): %v, want ok=%v", p, err, ok)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestFileAreaRootListing(t *testing.T) {
	ta := newTestAgent(t, nil)
	resp := ta.do(http.MethodPut, "/v1/files/d/x", strings.NewReader("x"))
	resp.Body.Close()
	for _, p := range []string{"/v1/files/", "/v1/files/d/"} {
		var list []FileInfo
		if st := ta.call(http.MethodGet, p, nil, &list); st != http.StatusOK || len(list) != 1 {
			t.Fatalf("%s: %d %+v", p, st, list)
		}
	}
}

// An upload larger than writeBackEvery and the copy buffer, sent without a
// length (chunked, as the engine streams), in pieces of odd sizes: the file
// holds every byte, in order, and the download gives them back with the
// checksum trailer.
func TestFilePutLargeChunkedUpload(t *testing.T) {
	ta := newTestAgent(t, nil)
	data := make([]byte, 2*writeBackEvery+copyBufferSize/3+5)
	rand.Read(data)
	sum := sha256Of(data)
	// A reader that is neither a bytes.Reader nor a known length: net/http
	// sends it chunked, piece by piece.
	pr, pw := io.Pipe()
	go func() {
		for rest, i := data, 0; len(rest) > 0; i++ {
			n := min(len(rest), 1+(i*7919)%(3*copyBufferSize/2))
			if _, err := pw.Write(rest[:n]); err != nil {
				return
			}
			rest = rest[n:]
		}
		pw.Close()
	}()
	resp := ta.do(http.MethodPut, "/v1/files/big/f.bin", pr, HeaderChecksum, sum)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("put: %d %s", resp.StatusCode, readAll(t, resp))
	}
	resp.Body.Close()
	onDisk, err := os.ReadFile(filepath.Join(ta.dir, "files", "big", "f.bin"))
	if err != nil || !bytes.Equal(onDisk, data) {
		t.Fatalf("stored bytes differ (%d of %d bytes, err %v)", len(onDisk), len(data), err)
	}
	resp = ta.do(http.MethodGet, "/v1/files/big/f.bin", nil)
	body := readAll(t, resp)
	if !bytes.Equal(body, data) || resp.Trailer.Get(HeaderChecksum) != sum {
		t.Fatalf("get: %d of %d bytes, trailer %q, want %s", len(body), len(data), resp.Trailer.Get(HeaderChecksum), sum)
	}
	if left := leftovers(t, filepath.Join(ta.dir, "files")); len(left) > 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

// writeBehind writes every byte where it belongs and starts the write-back
// of each writeBackEvery bytes.
func TestWriteBehind(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := &writeBehind{f: f}
	data := make([]byte, 3*writeBackEvery+123)
	rand.Read(data)
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 3<<20+1)
		if k, err := w.Write(rest[:n]); err != nil || k != n {
			t.Fatalf("write: %d of %d: %v", k, n, err)
		}
		rest = rest[n:]
	}
	w.wait()
	if w.off != int64(len(data)) || w.started < 2*writeBackEvery || w.started > w.off || w.off-w.started >= writeBackEvery {
		t.Fatalf("written %d, write-back started up to %d", w.off, w.started)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("file differs (%d of %d bytes, err %v)", len(got), len(data), err)
	}
}

// A third-party copy fetches only http(s) files of another agent's file
// area, and says which side failed.
func TestFilePullRefusesOtherSources(t *testing.T) {
	ta := newTestAgent(t, nil)
	for _, src := range []string{"file:///etc/passwd", "http://127.0.0.1:1/v1/info", "gopher://x/v1/files/a", "http:///v1/files/a"} {
		resp := ta.do(http.MethodPost, "/v1/files/pulled", nil, HeaderSource, src)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get(HeaderSourceStatus) != "" {
			t.Errorf("source %q: %d %s, want 400", src, resp.StatusCode, readAll(t, resp))
		}
		resp.Body.Close()
	}
	// A source that does not answer: 502, the source's status 0.
	resp := ta.do(http.MethodPost, "/v1/files/pulled", nil, HeaderSource, "http://127.0.0.1:1/v1/files/a")
	if p := problem(t, resp); resp.StatusCode != http.StatusBadGateway || resp.Header.Get(HeaderSourceStatus) != "0" || p.Code != CodeSourceUnreachable {
		t.Errorf("unreachable source: %d %+v", resp.StatusCode, p)
	}
	if _, err := os.Stat(filepath.Join(ta.dir, "files", "pulled")); err == nil {
		t.Error("a failed pull stored a file")
	}
}

// A pull takes its bytes from the source only, and names one.
func TestFilePullRefusesABody(t *testing.T) {
	ta := newTestAgent(t, nil)
	if st := ta.call(http.MethodPost, "/v1/files/pulled", nil, nil); st != http.StatusBadRequest {
		t.Fatalf("a pull without a source: %d, want 400", st)
	}
	resp := ta.do(http.MethodPost, "/v1/files/pulled", strings.NewReader("body"), HeaderSource, "http://127.0.0.1:1/v1/files/a")
	if p := problem(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(p.Detail, "no body") {
		t.Fatalf("a pull with a body: %d %+v", resp.StatusCode, p)
	}
}
