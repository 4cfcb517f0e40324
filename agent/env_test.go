package agent

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type tarEntry struct {
	name, body, link string
	typ              byte
}

func makeTarGz(t *testing.T, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		hd := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.body)), Linkname: e.link}
		switch e.typ {
		case tar.TypeDir:
			hd.Mode, hd.Size = 0o755, 0
		case tar.TypeSymlink, tar.TypeLink:
			hd.Size = 0
		}
		must(t, tw.WriteHeader(hd))
		if hd.Size > 0 {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	must(t, tw.Close())
	must(t, gz.Close())
	return buf.Bytes()
}

// serveArchives serves archives by path and counts the requests.
func serveArchives(t *testing.T, archives map[string][]byte) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := archives[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestInstallEnvironment(t *testing.T) {
	ta := newTestAgent(t, nil)
	good := makeTarGz(t, []tarEntry{
		{name: "etc/", typ: tar.TypeDir},
		{name: "etc/os-release", body: "NAME=gridflow-test\n", typ: tar.TypeReg},
		{name: "./bin/tool", body: "#!/bin/sh\n", typ: tar.TypeReg},
		{name: "etc/alias", link: "os-release", typ: tar.TypeSymlink},
	})
	evil := makeTarGz(t, []tarEntry{
		{name: "ok", body: "fine", typ: tar.TypeReg},
		{name: "../../escaped", body: "evil", typ: tar.TypeReg},
	})
	srv := serveArchives(t, map[string][]byte{"/good.tar.gz": good, "/evil.tar.gz": evil})

	var before Info
	ta.call(http.MethodGet, "/v1/info", nil, &before)

	// A wrong checksum installs nothing and does not reboot.
	resp := ta.do(http.MethodPost, "/v1/environment", strings.NewReader(`{"name":"test-env@1","url":"`+srv.URL+`/good.tar.gz","checksum":"`+sha256Of([]byte("not it"))+`"}`))
	if p := problem(t, resp); resp.StatusCode != http.StatusUnprocessableEntity || p.Code != CodeChecksumMismatch {
		t.Fatalf("wrong checksum: %d %+v", resp.StatusCode, p)
	}
	if _, err := os.Stat(filepath.Join(ta.dir, "envs", "test-env@1")); !os.IsNotExist(err) {
		t.Fatalf("environment directory after a mismatch: %v", err)
	}
	var info Info
	ta.call(http.MethodGet, "/v1/info", nil, &info)
	if info.Generation != before.Generation || info.Environment != nil {
		t.Fatalf("a failed install rebooted or changed the environment: %+v", info)
	}

	// The right checksum installs and reboots into it.
	req := EnvironmentRequest{Name: "test-env@1", URL: srv.URL + "/good.tar.gz", Checksum: sha256Of(good)}
	if st := ta.call(http.MethodPost, "/v1/environment", req, &info); st != http.StatusOK {
		t.Fatalf("install: %d", st)
	}
	if info.Generation != before.Generation+1 || info.UptimeSeconds > 5 || info.Environment == nil ||
		info.Environment.Name != "test-env@1" || info.Environment.Checksum != req.Checksum {
		t.Fatalf("info after install: %+v (before %+v)", info, before)
	}
	root := filepath.Join(ta.dir, "envs", "test-env@1")
	if b, err := os.ReadFile(filepath.Join(root, "etc", "alias")); err != nil || string(b) != "NAME=gridflow-test\n" {
		t.Fatalf("unpacked environment: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(root, "bin", "tool")); err != nil {
		t.Fatal(err)
	}
	var env Environment
	if st := ta.call(http.MethodGet, "/v1/environment", nil, &env); st != http.StatusOK || env.Name != "test-env@1" {
		t.Fatalf("environment: %d %+v", st, env)
	}

	// Installing it again is a no-op: no second reboot.
	var again Info
	ta.call(http.MethodPost, "/v1/environment", req, &again)
	if again.Generation != info.Generation {
		t.Fatalf("reinstalling the same environment rebooted: %d → %d", info.Generation, again.Generation)
	}

	// An archive whose entries climb out is refused as a whole.
	resp = ta.do(http.MethodPost, "/v1/environment", strings.NewReader(`{"name":"evil","url":"`+srv.URL+`/evil.tar.gz","checksum":"`+sha256Of(evil)+`"}`))
	if p := problem(t, resp); resp.StatusCode != http.StatusUnprocessableEntity || p.Code != CodeInvalid {
		t.Fatalf("evil archive: %d %+v", resp.StatusCode, p)
	}
	for _, p := range []string{filepath.Join(ta.dir, "escaped"), filepath.Join(ta.dir, "envs", "escaped"), filepath.Join(ta.dir, "envs", "evil")} {
		if _, err := os.Stat(p); err == nil {
			t.Fatalf("%s exists", p)
		}
	}

	// An archive from the file area.
	resp = ta.do(http.MethodPut, "/v1/files/images/good.tgz", bytes.NewReader(good))
	resp.Body.Close()
	req2 := EnvironmentRequest{Name: "local", URL: "file:images/good.tgz", Checksum: sha256Of(good)}
	if st := ta.call(http.MethodPost, "/v1/environment", req2, &info); st != http.StatusOK || info.Environment.Name != "local" {
		t.Fatalf("install from the file area: %d %+v", st, info.Environment)
	}

	for _, bad := range []struct {
		req  EnvironmentRequest
		want int
	}{
		{EnvironmentRequest{Name: "x", URL: srv.URL + "/good.tar.gz"}, http.StatusBadRequest},                            // no checksum
		{EnvironmentRequest{Name: "../x", URL: srv.URL + "/good.tar.gz", Checksum: req.Checksum}, http.StatusBadRequest}, // bad name
		{EnvironmentRequest{Name: "x", URL: "ftp://h/x", Checksum: req.Checksum}, http.StatusBadRequest},
		{EnvironmentRequest{Name: "x", URL: "file:../state.json", Checksum: req.Checksum}, http.StatusBadRequest},
		{EnvironmentRequest{Name: "x", URL: srv.URL + "/missing", Checksum: req.Checksum}, http.StatusUnprocessableEntity},
	} {
		if st := ta.call(http.MethodPost, "/v1/environment", bad.req, nil); st != bad.want {
			t.Errorf("%+v: %d, want %d", bad.req, st, bad.want)
		}
	}
	if l := leftovers(t, ta.dir); len(l) > 0 {
		t.Fatal(l)
	}
	if entries, _ := os.ReadDir(filepath.Join(ta.dir, "tmp")); len(entries) > 0 {
		t.Fatalf("downloads left in tmp: %v", entries)
	}
}
