package jobs

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gridflow/gridflow/dsl/testbed"
)

func testTestbed(t *testing.T) *testbed.Testbed {
	t.Helper()
	src := `
site "rennes" {
  cluster "small" {
    driver "sim" {}
    nodes {
      count = 2
      name  = "small-%d"
      properties {
        cores   = 4
        memory  = "8GiB"
        disk    = "100GB"
        network = "1Gbps"
      }
    }
  }
}
site "lyon" {
  cluster "big" {
    driver "sim" {}
    nodes {
      count = 1
      name  = "big-%d"
      properties {
        cores   = 64
        memory  = "512GiB"
        disk    = "1TB"
        network = "10Gbps"
      }
    }
  }
}
`
	tb, diags := testbed.NewParser().Parse([]byte(src), "t.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return tb
}

func TestNormalize(t *testing.T) {
	tb := testTestbed(t)
	zero := 0
	m := Manifest{Executable: " /bin/echo ", Arguments: "a 'b c'", InputSandbox: []string{"./x.txt"}, MaxReschedules: &zero}
	req, err := m.Normalize(tb)
	if err != nil {
		t.Fatal(err)
	}
	if m.Executable != "/bin/echo" || m.CPUTime != DefaultCPUTime || m.InputSandbox[0] != "x.txt" || m.Reschedules() != 0 ||
		!slices.Equal(req.Sites, []string{"lyon", "rennes"}) {
		t.Fatalf("normalized %+v, %+v", m, req)
	}
	// Requirements pick the sites that can run the job, in the user's order.
	m = Manifest{Executable: "x", Sites: []string{"rennes", "lyon"}, Cores: 8}
	if req, err = m.Normalize(tb); err != nil || !slices.Equal(req.Sites, []string{"rennes", "lyon"}) || req.Cores != 8 {
		t.Fatalf("%+v %v", req, err)
	}
	m = Manifest{Executable: "x", Sites: []string{"ANY"}, BannedSites: []string{"lyon"}, Memory: "4GiB"}
	if req, err = m.Normalize(tb); err != nil || !slices.Equal(req.Sites, []string{"rennes"}) || req.Memory != 4<<30 {
		t.Fatalf("%+v %v", req, err)
	}

	bad := []struct {
		m   Manifest
		loc string
	}{
		{Manifest{}, "body.Executable"},
		{Manifest{Executable: "x", Sites: []string{"paris"}}, "body.Sites[0]"},
		{Manifest{Executable: "x", BannedSites: []string{"paris"}}, "body.BannedSites[0]"},
		{Manifest{Executable: "x", Sites: []string{"lyon"}, BannedSites: []string{"lyon"}}, "body.BannedSites"},
		{Manifest{Executable: "x", Sites: []string{"rennes"}, Cores: 8}, "body.Cores"},
		{Manifest{Executable: "x", Memory: "1TiB"}, "body.Memory"},
		{Manifest{Executable: "x", Memory: "much"}, "body.Memory"},
		{Manifest{Executable: "x", CPUTime: MaxCPUTime + 1}, "body.CPUTime"},
		{Manifest{Executable: "x", Arguments: `"open`}, "body.Arguments"},
		{Manifest{Executable: "x", Environment: map[string]string{"A-B": "1"}}, "body.Environment.A-B"},
		{Manifest{Executable: "x", InputSandbox: []string{"a", "./a"}}, "body.InputSandbox[1]"},
		{Manifest{Executable: "x", InputSandbox: []string{"/etc/passwd"}}, "body.InputSandbox[0]"},
		{Manifest{Executable: "x", OutputSandbox: []string{"a/../../b"}}, "body.OutputSandbox[0]"},
		{Manifest{Executable: "x", OutputSandbox: []string{"*.root"}}, "body.OutputSandbox[0]"},
		{Manifest{Executable: "x", OutputSandbox: []string{StderrName}}, "body.OutputSandbox[0]"},
	}
	for _, c := range bad {
		_, err := c.m.Normalize(tb)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Location != c.loc || fe.Status != 422 {
			t.Errorf("%+v: %v, want a 422 at %s", c.m, err, c.loc)
		}
	}
}

func TestSplitArgs(t *testing.T) {
	for in, want := range map[string][]string{
		``:                        nil,
		`Hello World`:             {"Hello", "World"},
		`  a   b  `:               {"a", "b"},
		`'a b' "c \"d\"" e\ f`:    {"a b", `c "d"`, "e f"},
		`-c "echo $HOME; exit 3"`: {"-c", "echo $HOME; exit 3"},
		`''`:                      {""},
		`a'b'"c"`:                 {"abc"},
	} {
		got, err := SplitArgs(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("SplitArgs(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{`'a`, `"a`, `a\`} {
		if _, err := SplitArgs(in); err == nil {
			t.Errorf("SplitArgs(%q) accepted", in)
		}
	}
}

func TestCommand(t *testing.T) {
	m := Manifest{Executable: "./run.sh", Arguments: "x y", InputSandbox: []string{"run.sh"}}
	name, args := m.Command()
	if name != "/bin/sh" || !slices.Equal(args[2:], []string{"./run.sh", "x", "y"}) {
		t.Fatalf("%s %q", name, args)
	}
	m = Manifest{Executable: "/bin/echo", Arguments: "x"}
	if name, args := m.Command(); name != "/bin/echo" || !slices.Equal(args, []string{"x"}) {
		t.Fatalf("%s %q", name, args)
	}
}

func pack(t *testing.T, s *Sandboxes, files map[string]string) (string, error) {
	t.Helper()
	w, err := s.Create()
	if err != nil {
		return "", err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := w.Add(n, int64(len(files[n])), strings.NewReader(files[n])); err != nil {
			w.Abort()
			return "", err
		}
	}
	sha, _, err := w.Commit(context.Background())
	return sha, err
}

// Sandboxes are content-addressed: the same files make the same archive,
// kept once; an archive reads back as it was written; the limit holds.
func TestSandboxes(t *testing.T) {
	dir := t.TempDir()
	s := &Sandboxes{Dir: dir, Limit: 100}
	files := map[string]string{"a.txt": "alpha", "sub/b.bin": "\x00\x01beta"}
	sha1, err := pack(t, s, files)
	if err != nil {
		t.Fatal(err)
	}
	sha2, err := pack(t, s, files)
	if err != nil || sha2 != sha1 {
		t.Fatalf("same files packed twice: %s then %s (%v)", sha1, sha2, err)
	}
	var stored []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			stored = append(stored, p)
		}
		return nil
	})
	if len(stored) != 1 || filepath.Base(stored[0]) != sha1 {
		t.Fatalf("stored %v", stored)
	}
	got := map[string]string{}
	if err := s.Each(sha1, func(name string, size int64, r io.Reader) error {
		b, err := io.ReadAll(r)
		got[name] = string(b)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["a.txt"] != "alpha" || got["sub/b.bin"] != files["sub/b.bin"] {
		t.Fatalf("read back %q", got)
	}
	other, _ := pack(t, s, map[string]string{"a.txt": "alphA"})
	if other == sha1 {
		t.Fatal("different files, same digest")
	}
	if _, err := pack(t, s, map[string]string{"a": strings.Repeat("x", 60), "b": strings.Repeat("y", 41)}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("101 bytes under a limit of 100: %v", err)
	}
	if _, _, err := s.Open("../../etc/passwd"); err == nil {
		t.Fatal("opened a path that is no digest")
	}
	if _, err := (&Sandboxes{}).Create(); !errors.Is(err, ErrNoSandboxes) {
		t.Fatalf("sandboxes without a directory: %v", err)
	}
}
