package storage

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridflow/gridflow/agent/checksum"
)

// env is a file root and Endpoints that allow it and loopback HTTP.
type env struct {
	t    *testing.T
	root string
	e    *Endpoints
}

func newEnv(t *testing.T) *env {
	t.Helper()
	root := t.TempDir()
	return &env{t: t, root: root, e: &Endpoints{Policy: Policy{FileRoots: []string{root}, HTTPHosts: []string{"127.0.0.1"}}}}
}

// url parses a file URL of rel under the root.
func (v *env) url(rel string) URL {
	v.t.Helper()
	return mustParse(v.t, "file://"+filepath.ToSlash(filepath.Join(v.root, rel)))
}

func (v *env) write(rel string, data []byte) URL {
	v.t.Helper()
	p := filepath.Join(v.root, rel)
	must(v.t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(v.t, os.WriteFile(p, data, 0o644))
	return v.url(rel)
}

// read returns the bytes of rel, nil when it does not exist.
func (v *env) read(rel string) []byte {
	v.t.Helper()
	b, err := os.ReadFile(filepath.Join(v.root, rel))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	must(v.t, err)
	return b
}

// noTemps fails when a temporary file is left under the root.
func (v *env) noTemps() {
	v.t.Helper()
	_ = filepath.WalkDir(v.root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && isTempName(d.Name()) {
			v.t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
}

func mustParse(t testing.TB, raw string) URL {
	t.Helper()
	u, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func sumOf(t testing.TB, algo string, data []byte) checksum.Sum {
	t.Helper()
	s, _, err := checksum.Of(bytes.NewReader(data), algo)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// copyErr asserts that err is a *CopyError of phase and retryability whose
// reason says each of says.
func copyErr(t testing.TB, err error, phase string, retryable bool, says ...string) *CopyError {
	t.Helper()
	var ce *CopyError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *CopyError", err, err)
	}
	if ce.Phase != phase || ce.Retryable != retryable || Retryable(err) != retryable {
		t.Fatalf("error %q: phase %q retryable %v; want phase %q retryable %v", ce, ce.Phase, ce.Retryable, phase, retryable)
	}
	for _, s := range says {
		if !strings.Contains(ce.Reason, s) {
			t.Fatalf("reason %q does not say %q", ce.Reason, s)
		}
	}
	return ce
}

// eventually waits for cond, failing after a deadline.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
