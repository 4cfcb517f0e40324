package storage

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gridflow/gridflow/engine/hw"
)

func TestCheck(t *testing.T) {
	root := t.TempDir()
	other := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(root, "in"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "in", "f"), []byte("x"), 0o644))
	must(t, os.WriteFile(filepath.Join(other, "secret"), []byte("s"), 0o644))
	must(t, os.Symlink(other, filepath.Join(root, "out")))                         // a directory link out
	must(t, os.Symlink(filepath.Join(other, "secret"), filepath.Join(root, "ln"))) // a file link out
	must(t, os.Symlink(filepath.Join(root, "in"), filepath.Join(root, "inner")))   // a link that stays in
	must(t, os.Symlink(filepath.Join(other, "nothing"), filepath.Join(root, "dangling")))
	// A link outside the roots that leads into a root is fine: the bytes are under the root.
	must(t, os.Symlink(filepath.Join(root, "in"), filepath.Join(other, "toroot")))

	e := &Endpoints{
		Policy: Policy{FileRoots: []string{root}, HTTPHosts: []string{"data.example.org", "cache.example.org:8443", "*.cern.ch", "[::1]"}},
		Nodes:  func(context.Context, string) (hw.Files, error) { return nil, nil },
	}
	file := func(p string) string { return "file://" + p }
	const ok, invalid, forbidden = "", "invalid", "forbidden"
	for _, tc := range []struct {
		raw    string
		dest   bool
		want   string
		reason string
	}{
		{raw: file(root + "/in/f"), want: ok},
		{raw: file(root + "/in/f"), dest: true, want: ok},
		{raw: file(root + "/new/dir/f"), dest: true, want: ok},
		{raw: file(root + "/inner/f"), want: ok},
		{raw: file(other + "/toroot/f"), want: ok},
		{raw: file(root + "/in/f/sub"), dest: true, want: ok}, // not a directory: the copy says so
		{raw: file(other + "/secret"), want: forbidden, reason: "not under an allowed file root"},
		{raw: file(root + "/out/secret"), want: forbidden, reason: "through a symbolic link"},
		{raw: file(root + "/out/new"), dest: true, want: forbidden, reason: "through a symbolic link"},
		{raw: file(root + "/ln"), want: forbidden, reason: "through a symbolic link"},
		{raw: file(root + "/dangling"), dest: true, want: forbidden, reason: "missing target"},
		{raw: file(root + "/dangling/x"), dest: true, want: forbidden, reason: "missing target"},
		{raw: file(root + "/../x"), want: invalid, reason: "'..'"},
		{raw: file(root + "/%2e%2e/x"), want: invalid, reason: "'..'"},
		{raw: file(root + "/in/%2E%2e/%2e%2e/etc/passwd"), want: invalid, reason: "'..'"},
		{raw: file(root + "/in/f%00"), want: invalid, reason: "NUL"},
		{raw: file(root + "/in/.f.gridflow-7.part"), want: forbidden, reason: "temporary file"},
		{raw: "file:///etc/passwd", want: forbidden, reason: "not under an allowed file root"},
		{raw: "http://data.example.org/f", want: ok},
		{raw: "https://data.example.org:9000/f", want: ok},
		{raw: "https://DATA.example.org./f", want: ok},
		{raw: "http://data.example.org/f", dest: true, want: forbidden, reason: "only be sources"},
		{raw: "https://cache.example.org:8443/f", want: ok},
		{raw: "https://cache.example.org/f", want: forbidden, reason: "not allowed"},
		{raw: "https://eos.cern.ch/f", want: ok},
		{raw: "https://a.b.cern.ch/f", want: ok},
		{raw: "https://cern.ch/f", want: forbidden, reason: "not allowed"},
		{raw: "https://evilcern.ch/f", want: forbidden, reason: "not allowed"},
		{raw: "http://169.254.169.254/latest", want: forbidden, reason: "not allowed"},
		{raw: "http://[::1]:8080/f", want: ok},
		{raw: "ftp://data.example.org/f", want: invalid, reason: "unsupported scheme"},
		{raw: "node://n-1/a/b", want: ok},
		{raw: "node://n-1/a/b", dest: true, want: ok},
		{raw: "node:///a/b", want: invalid, reason: "names no node"},
		{raw: "node://n-1", want: invalid, reason: "names no file"},
	} {
		var err error
		u, perr := Parse(tc.raw)
		if perr != nil {
			err = perr
		} else {
			err = e.Check(u, tc.dest)
		}
		switch tc.want {
		case ok:
			if err != nil {
				t.Errorf("%s (dest %v): %v", tc.raw, tc.dest, err)
			}
			continue
		case invalid:
			if !IsInvalid(err) || IsForbidden(err) {
				t.Errorf("%s (dest %v): %v, want invalid", tc.raw, tc.dest, err)
			}
		case forbidden:
			if !IsForbidden(err) || IsInvalid(err) {
				t.Errorf("%s (dest %v): %v, want forbidden", tc.raw, tc.dest, err)
			}
		}
		if err != nil && !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("%s (dest %v): %q does not say %q", tc.raw, tc.dest, err, tc.reason)
		}
	}

	// URLs built by hand are checked as Parse would.
	for _, u := range []URL{{Scheme: "ftp", Host: "h", Path: "/f"}, {Scheme: "file", Path: root + "/in/../../etc"}, {Scheme: "node", Path: "/f"}, {}} {
		if err := e.Check(u, false); !IsInvalid(err) {
			t.Errorf("Check(%#v) = %v, want invalid", u, err)
		}
	}
	// A root's own path, without trailing slash, parses; Check refuses it.
	u, _ := Parse(file(root))
	if err := e.Check(u, true); !IsForbidden(err) || !strings.Contains(err.Error(), "root itself") {
		t.Errorf("the root itself: %v", err)
	}

	// The zero policy refuses everything but syntax errors.
	var zero Endpoints
	for _, raw := range []string{file(root + "/in/f"), "http://data.example.org/f", "node://n-1/f"} {
		u, _ := Parse(raw)
		if err := zero.Check(u, false); !IsForbidden(err) {
			t.Errorf("zero policy, %s: %v", raw, err)
		}
	}
}

func TestMatchHost(t *testing.T) {
	for _, tc := range []struct {
		pat, host, port string
		want            bool
	}{
		{"*", "anything", "1", true},
		{"h", "h", "80", true},
		{"h", "h", "8080", true},
		{"H.", "h", "80", true},
		{"h:8080", "h", "8080", true},
		{"h:8080", "h", "80", false},
		{"h:*", "h", "1", true},
		{"*:8080", "x", "8080", true},
		{"*:8080", "x", "80", false},
		{"*.e.org", "a.e.org", "443", true},
		{"*.e.org", "e.org", "443", false},
		{"*.e.org", "ae.org", "443", false},
		{"[::1]:8080", "::1", "8080", true},
		{"::1", "::1", "8080", true},
		{"[::1]", "::1", "8080", true},
		{"", "h", "80", false},
	} {
		if got := matchHost(tc.pat, tc.host, tc.port); got != tc.want {
			t.Errorf("matchHost(%q, %q, %q) = %v", tc.pat, tc.host, tc.port, got)
		}
	}
}

func TestPolicyValidate(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	must(t, os.WriteFile(f, nil, 0o644))
	if err := (Policy{FileRoots: []string{dir}, HTTPHosts: []string{"*", "h:1"}}).Validate(); err != nil {
		t.Fatal(err)
	}
	err := Policy{FileRoots: []string{"rel", f, dir + "/missing"}, HTTPHosts: []string{"", "https://h/"}}.Validate()
	for _, want := range []string{"not an absolute", "not a directory", "no such file", "empty HTTP host", "is a URL"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v does not say %q", err, want)
		}
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A link that leads out and appears after Check (a race) is still refused:
// every access goes through os.Root, whose refusal is classed as forbidden.
func TestRootRefusesLinksOut(t *testing.T) {
	root, other := t.TempDir(), t.TempDir()
	must(t, os.WriteFile(filepath.Join(other, "secret"), []byte("s"), 0o644))
	must(t, os.Symlink(other, filepath.Join(root, "out")))
	r, err := os.OpenRoot(root)
	must(t, err)
	defer r.Close()
	_, err = r.Open(filepath.Join("out", "secret"))
	if err == nil {
		t.Fatal("os.Root followed a link out")
	}
	f := fsFailure(PhaseSource, mustParse(t, "file://"+root+"/out/secret"), err)
	if !IsForbidden(f.err) || f.retryable || !strings.Contains(f.reason, "symbolic link") {
		t.Fatalf("%v classed as %+v", err, f)
	}
}
