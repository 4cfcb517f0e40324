package jobs

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/gridflow/gridflow/engine/store"
)

// DefaultSandboxLimit bounds the bytes of the files of one sandbox.
const DefaultSandboxLimit = 10 << 20

// ErrTooLarge: a sandbox would hold more than the limit.
var ErrTooLarge = errors.New("sandbox over the size limit")

// ErrNoSandboxes: the engine has no directory to keep sandboxes in.
var ErrNoSandboxes = errors.New("this engine keeps no sandboxes: start it with a sandbox directory (--sandbox-dir, or the dev role's data dir)")

// Sandboxes keeps sandbox archives (tar.gz) under Dir, named by the sha256
// of their bytes: the same files packed twice make the same archive (entries
// sorted, times and owners zeroed), stored once.
type Sandboxes struct {
	Dir string
	// Limit bounds the bytes of the files of one sandbox (default
	// DefaultSandboxLimit).
	Limit int64
	Store *store.Store
}

func (s *Sandboxes) limit() int64 {
	if s == nil || s.Limit <= 0 {
		return DefaultSandboxLimit
	}
	return s.Limit
}

// Usable reports whether sandboxes can be stored.
func (s *Sandboxes) Usable() bool { return s != nil && s.Dir != "" }

var shaPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (s *Sandboxes) path(sha string) string { return filepath.Join(s.Dir, sha[:2], sha) }

// Open opens a stored archive.
func (s *Sandboxes) Open(sha string) (*os.File, int64, error) {
	if !s.Usable() {
		return nil, 0, ErrNoSandboxes
	}
	if !shaPattern.MatchString(sha) {
		return nil, 0, fmt.Errorf("sandbox %q: not a sha256 digest", sha)
	}
	f, err := os.Open(s.path(sha))
	if err != nil {
		return nil, 0, fmt.Errorf("sandbox %s: %w", sha, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// Writer packs one archive.
type Writer struct {
	s      *Sandboxes
	tmp    *os.File
	hash   hashWriter
	gz     *gzip.Writer
	tw     *tar.Writer
	used   int64
	names  []string
	closed bool
}

type hashWriter struct {
	w io.Writer
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
	n int64
}

func (h *hashWriter) Write(p []byte) (int, error) {
	n, err := h.w.Write(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}

// Create starts an archive; add files in name order (callers sort them),
// then Commit, or Abort.
func (s *Sandboxes) Create() (*Writer, error) {
	if !s.Usable() {
		return nil, ErrNoSandboxes
	}
	if err := os.MkdirAll(s.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("sandbox directory %s: %w", s.Dir, err)
	}
	tmp, err := os.CreateTemp(s.Dir, ".part-*")
	if err != nil {
		return nil, fmt.Errorf("sandbox directory %s: %w", s.Dir, err)
	}
	w := &Writer{s: s, tmp: tmp, hash: hashWriter{w: tmp, h: sha256.New()}}
	w.gz, _ = gzip.NewWriterLevel(&w.hash, gzip.DefaultCompression) // the header's time stays zero
	w.tw = tar.NewWriter(w.gz)
	return w, nil
}

// Remaining is how many bytes of files the archive may still take.
func (w *Writer) Remaining() int64 { return w.s.limit() - w.used }

// Add writes one file of size bytes read from r. A file that would take the
// archive over its limit is ErrTooLarge and leaves the archive as it was.
func (w *Writer) Add(name string, size int64, r io.Reader) error {
	if size < 0 || size > w.Remaining() {
		return fmt.Errorf("%s (%d bytes, %d left of the %d-byte limit): %w", name, size, max(w.Remaining(), 0), w.s.limit(), ErrTooLarge)
	}
	hdr := &tar.Header{Name: name, Mode: 0o644, Size: size, ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return err
	}
	n, err := io.Copy(w.tw, io.LimitReader(r, size))
	if err == nil && n != size {
		err = fmt.Errorf("%s: %d bytes read, %d announced", name, n, size)
	}
	if err != nil {
		return err
	}
	w.used += size
	w.names = append(w.names, name)
	return nil
}

// Names are the files added so far.
func (w *Writer) Names() []string { return w.names }

// Commit closes the archive, stores it under its digest (once) and records
// it; it returns the digest and the archive's size.
func (w *Writer) Commit(ctx context.Context) (string, int64, error) {
	defer w.Abort()
	if err := w.tw.Close(); err != nil {
		return "", 0, err
	}
	if err := w.gz.Close(); err != nil {
		return "", 0, err
	}
	if err := w.tmp.Sync(); err != nil {
		return "", 0, err
	}
	sha := hex.EncodeToString(w.hash.h.Sum(nil))
	size := w.hash.n
	dst := w.s.path(sha)
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return "", 0, err
	}
	if _, err := os.Stat(dst); errors.Is(err, os.ErrNotExist) {
		if err := os.Rename(w.tmp.Name(), dst); err != nil {
			return "", 0, fmt.Errorf("store sandbox %s: %w", sha, err)
		}
	}
	if w.s.Store != nil {
		if _, err := w.s.Store.RecordSandbox(ctx, sha, size); err != nil {
			return "", 0, err
		}
	}
	return sha, size, nil
}

// Abort drops an archive not committed (harmless after Commit).
func (w *Writer) Abort() {
	if w.closed {
		return
	}
	w.closed = true
	w.tmp.Close()
	os.Remove(w.tmp.Name()) // gone already when committed
}

// Each calls fn for every file of a stored archive, in archive order.
func (s *Sandboxes) Each(sha string, fn func(name string, size int64, r io.Reader) error) error {
	f, _, err := s.Open(sha)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("sandbox %s: %w", sha, err)
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("sandbox %s: %w", sha, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		if err := fn(hdr.Name, hdr.Size, tr); err != nil {
			return err
		}
	}
}
