package sim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gridflow/gridflow/agent/checksum"
	"github.com/gridflow/gridflow/engine/hw"
)

// chunk is the unit in which bytes move, and are throttled.
const chunk = 64 << 10

// fileMeta is what a node knows of a stored file.
type fileMeta struct {
	size    int64
	modTime time.Time
	sums    map[string]string // algorithm → "<algorithm>:<hex>"
}

// throttle spaces bytes so that they move at rate bits per second.
type throttle struct {
	ctx   context.Context
	rate  int64
	start time.Time
	n     int64
}

func newThrottle(ctx context.Context, rate int64) *throttle {
	return &throttle{ctx: ctx, rate: rate, start: time.Now()}
}

// wait accounts for n more bytes and sleeps until they are due.
func (t *throttle) wait(n int) error {
	t.n += int64(n)
	due := t.start.Add(time.Duration(float64(t.n) * 8 / float64(t.rate) * float64(time.Second)))
	return hw.Sleep(t.ctx, time.Until(due))
}

func (d *Driver) nodeDir(uid string) (string, error) {
	d.dirMu.Lock()
	defer d.dirMu.Unlock()
	if d.dir == "" {
		dir, err := os.MkdirTemp("", "gridflow-sim-")
		if err != nil {
			return "", err
		}
		d.dir, d.ownDir = dir, true
	}
	nd := filepath.Join(d.dir, uid)
	return nd, os.MkdirAll(nd, 0o755)
}

func algorithm(op, uid, algo string) (string, error) {
	if algo == "" {
		return checksum.Default, nil
	}
	if err := checksum.CheckAlgorithm(algo); err != nil {
		return "", hw.Errorf(op, uid, hw.Invalid, "%v", err)
	}
	return algo, nil
}

// conflictLocked reports a path that would be both a file and a directory.
func (n *node) conflictLocked(op, p string) error {
	for q := range n.files {
		if strings.HasPrefix(q, p+"/") {
			return hw.Errorf(op, n.uid, hw.Conflict, "%q is a directory", p)
		}
		if strings.HasPrefix(p, q+"/") {
			return hw.Errorf(op, n.uid, hw.Conflict, "%q is a file, so %q cannot be under it", q, p)
		}
	}
	return nil
}

// Put stores the bytes of r at the cluster's copy rate.
func (d *Driver) Put(ctx context.Context, uid, path string, r io.Reader, opts hw.PutOptions) (hw.FileInfo, error) {
	const op = "put file"
	n, err := d.node(op, uid)
	if err != nil {
		return hw.FileInfo{}, err
	}
	p, err := hw.CleanPath(path)
	if err != nil {
		return hw.FileInfo{}, hw.Errorf(op, uid, hw.Invalid, "%v", err)
	}
	var want checksum.Sum
	algo, err := algorithm(op, uid, opts.Algorithm)
	if err != nil {
		return hw.FileInfo{}, err
	}
	if opts.Checksum != "" {
		if want, err = checksum.Parse(opts.Checksum); err != nil {
			return hw.FileInfo{}, hw.Errorf(op, uid, hw.Invalid, "%v", err)
		}
		algo = want.Algorithm
	}
	n.mu.Lock()
	err = n.readyLocked(op)
	if _, exists := n.files[p]; err == nil && exists && opts.NoOverwrite {
		err = hw.Errorf(op, uid, hw.Exists, "%q exists and must not be replaced", p)
	}
	if err == nil {
		err = n.conflictLocked(op, p)
	}
	if err == nil {
		err = n.injectLocked(op)
	}
	n.mu.Unlock()
	if err != nil {
		return hw.FileInfo{}, err
	}

	dir, err := d.nodeDir(uid)
	if err != nil {
		return hw.FileInfo{}, hw.Errorf(op, uid, hw.Internal, "%v", err)
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp, err := os.Create(filepath.Join(dir, ".upload-"+hex.EncodeToString(rnd[:])))
	if err != nil {
		return hw.FileInfo{}, hw.Errorf(op, uid, hw.Internal, "%v", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	h, _ := checksum.NewHasher()
	_, err = io.Copy(io.MultiWriter(tmp, h), &rateReader{r: r, t: newThrottle(ctx, d.cfg.CopyRate)})
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if ctx.Err() != nil {
			return hw.FileInfo{}, ctxErr(op, uid, ctx.Err())
		}
		return hw.FileInfo{}, hw.Errorf(op, uid, hw.Internal, "storing %q: %v", p, err)
	}
	if !want.IsZero() {
		if got := h.Sum(want.Algorithm); !got.Equal(want) {
			return hw.FileInfo{}, hw.Errorf(op, uid, hw.ChecksumMismatch, "the bytes for %q have %s, not the expected %s; nothing was stored", p, got, want)
		}
	}
	meta := fileMeta{size: h.Size(), modTime: time.Now().UTC(), sums: map[string]string{}}
	for _, s := range h.Sums() {
		meta.sums[s.Algorithm] = s.String()
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.conflictLocked(op, p); err != nil {
		return hw.FileInfo{}, err
	}
	target := filepath.Join(dir, filepath.FromSlash(p))
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return hw.FileInfo{}, hw.Errorf(op, uid, hw.Internal, "%v", err)
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return hw.FileInfo{}, hw.Errorf(op, uid, hw.Internal, "%v", err)
	}
	n.files[p] = meta
	return hw.FileInfo{Path: p, Size: meta.size, ModTime: meta.modTime, Checksum: meta.sums[algo]}, nil
}

// Stat describes a stored file.
func (d *Driver) Stat(ctx context.Context, uid, path, algo string) (hw.FileInfo, error) {
	const op = "stat file"
	n, err := d.node(op, uid)
	if err != nil {
		return hw.FileInfo{}, err
	}
	p, err := hw.CleanPath(path)
	if err != nil {
		return hw.FileInfo{}, hw.Errorf(op, uid, hw.Invalid, "%v", err)
	}
	if algo, err = algorithm(op, uid, algo); err != nil {
		return hw.FileInfo{}, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.readyLocked(op); err != nil {
		return hw.FileInfo{}, err
	}
	m, ok := n.files[p]
	if !ok {
		return hw.FileInfo{}, hw.Errorf(op, uid, hw.NotFound, "no file %q", p)
	}
	return hw.FileInfo{Path: p, Size: m.size, ModTime: m.modTime, Checksum: m.sums[algo]}, nil
}

// Get streams a stored file at the cluster's copy rate.
func (d *Driver) Get(ctx context.Context, uid, path, algo string) (hw.Download, error) {
	const op = "get file"
	fi, err := d.Stat(ctx, uid, path, algo)
	if err != nil {
		return nil, err
	}
	n, _ := d.node(op, uid)
	n.mu.Lock()
	err = n.injectLocked(op)
	n.mu.Unlock()
	if err != nil {
		return nil, err
	}
	dir, err := d.nodeDir(uid)
	if err != nil {
		return nil, hw.Errorf(op, uid, hw.Internal, "%v", err)
	}
	f, err := os.Open(filepath.Join(dir, filepath.FromSlash(fi.Path)))
	if err != nil {
		return nil, hw.Errorf(op, uid, hw.Internal, "%v", err)
	}
	want, _ := checksum.Parse(fi.Checksum)
	h, _ := checksum.NewHasher(want.Algorithm)
	return &download{f: f, r: &rateReader{r: f, t: newThrottle(ctx, d.cfg.CopyRate)}, h: h, want: want, size: fi.Size, node: uid, path: fi.Path}, nil
}

// download checks the bytes it streams against the stored checksum.
type download struct {
	f          *os.File
	r          io.Reader
	h          *checksum.Hasher
	want       checksum.Sum
	size       int64
	node, path string
	done       bool
}

func (dl *download) Read(p []byte) (int, error) {
	n, err := dl.r.Read(p)
	dl.h.Write(p[:n])
	if errors.Is(err, io.EOF) && !dl.done {
		dl.done = true
		if got := dl.h.Sum(dl.want.Algorithm); !got.Equal(dl.want) {
			return n, &hw.Error{Op: "get file", Node: dl.node, Kind: hw.ChecksumMismatch, Retryable: true,
				Err: fmt.Errorf("%q read back with %s, not its checksum %s", dl.path, got, dl.want)}
		}
	}
	return n, err
}

func (dl *download) Close() error     { return dl.f.Close() }
func (dl *download) Size() int64      { return dl.size }
func (dl *download) Checksum() string { return dl.h.Sum(dl.want.Algorithm).String() }

// Delete removes a stored file; a missing file is not an error.
func (d *Driver) Delete(ctx context.Context, uid, path string) error {
	const op = "delete file"
	n, err := d.node(op, uid)
	if err != nil {
		return err
	}
	p, err := hw.CleanPath(path)
	if err != nil {
		return hw.Errorf(op, uid, hw.Invalid, "%v", err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.readyLocked(op); err != nil {
		return err
	}
	if _, ok := n.files[p]; !ok {
		return nil
	}
	dir, err := d.nodeDir(uid)
	if err != nil {
		return hw.Errorf(op, uid, hw.Internal, "%v", err)
	}
	if err := os.Remove(filepath.Join(dir, filepath.FromSlash(p))); err != nil && !errors.Is(err, os.ErrNotExist) {
		return hw.Errorf(op, uid, hw.Internal, "%v", err)
	}
	delete(n.files, p)
	return nil
}
