package agent

import (
	"os"
	"path/filepath"
	"testing"
)

// TestStartRemovesUnfinishedUploads: an agent killed mid-upload leaves the
// upload's temporary file behind; the next start removes every such file,
// in subdirectories too, and nothing else.
func TestStartRemovesUnfinishedUploads(t *testing.T) {
	dir := t.TempDir()
	files := filepath.Join(dir, "files")
	for name, body := range map[string]string{
		"kept.dat":                       "committed",
		"out/" + tmpMarker + "1a2b":      "half an upload",
		"out/deep/" + tmpMarker + "3c4d": "another",
		"out/deep/kept-too.dat":          "committed",
	} {
		p := filepath.Join(files, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a, err := New(Config{DataDir: dir, Token: testToken, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if left := leftovers(t, files); len(left) != 0 {
		t.Fatalf("unfinished uploads survived the start: %v", left)
	}
	for _, name := range []string{"kept.dat", "out/deep/kept-too.dat"} {
		if _, err := os.Stat(filepath.Join(files, filepath.FromSlash(name))); err != nil {
			t.Errorf("committed file %s: %v", name, err)
		}
	}
}
