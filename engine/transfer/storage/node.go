package storage

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/gridflow/gridflow/agent/checksum"
	"github.com/gridflow/gridflow/engine/hw"
)

// cleanupTimeout bounds the removal of a rejected node destination, which
// runs even when the copy's context has ended.
const cleanupTimeout = 30 * time.Second

// hwFailure classes an error of a node driver.
func hwFailure(phase string, u URL, err error) *failure {
	f := &failure{phase: phase, url: u.String(), reason: err.Error(), retryable: hw.Retryable(err), err: err}
	switch hw.KindOf(err) {
	case hw.NotFound:
		f.err = errors.Join(ErrNotFound, err)
	case hw.Forbidden:
		f.err = errors.Join(ErrForbidden, err)
	case hw.Exists:
		f.err = errors.Join(ErrExists, err)
	case hw.ChecksumMismatch:
		f.err = errors.Join(ErrChecksumMismatch, err)
	}
	return f
}

// nodeFiles finds the files of u's node.
func (e *Endpoints) nodeFiles(ctx context.Context, phase string, u URL) (hw.Files, *failure) {
	if e.Nodes == nil {
		return nil, refusal(phase, forbiddenf(u.String(), "node storage is not available on this server"))
	}
	files, err := e.Nodes(ctx, u.Host)
	if err != nil {
		return nil, hwFailure(phase, u, err)
	}
	if files == nil {
		return nil, &failure{phase: phase, url: u.String(), reason: "the node has no file storage"}
	}
	return files, nil
}

// openNodeSource starts a download from a node; the download checks the
// bytes against the node's checksum with algo as they pass.
func (e *Endpoints) openNodeSource(ctx context.Context, u URL, algo string) (*source, *failure) {
	files, f := e.nodeFiles(ctx, PhaseSource, u)
	if f != nil {
		return nil, f
	}
	dl, err := files.Get(ctx, u.Host, u.NodePath(), algo)
	if err != nil {
		return nil, hwFailure(PhaseSource, u, err)
	}
	return &source{r: dl, size: dl.Size(), close: dl.Close, fail: func(err error, n int64) *failure {
		f := hwFailure(PhaseTransfer, u, err)
		if errors.Is(err, hw.ChecksumMismatch) {
			f.phase = PhaseVerify
		}
		return f
	}, sum: func() checksum.Sum {
		// A Download hashes the bytes it yields with the algorithm it
		// was opened with, to check them against the node's checksum.
		s, _ := checksum.Parse(dl.Checksum())
		return s
	}}, nil
}

// nodeDest writes a node destination with the node's Put, which stores the
// bytes under a temporary name and renames them once complete (and, given
// a checksum, verified).
type nodeDest struct {
	u         URL
	files     hw.Files
	overwrite bool
}

// openNodeDest finds the node and refuses an existing destination that
// must not be replaced (the node checks again when it commits).
func (e *Endpoints) openNodeDest(ctx context.Context, u URL, overwrite bool) (*nodeDest, *failure) {
	files, f := e.nodeFiles(ctx, PhaseDestination, u)
	if f != nil {
		return nil, f
	}
	d := &nodeDest{u: u, files: files, overwrite: overwrite}
	if !overwrite {
		// adler32: the cheapest checksum a node computes for a Stat.
		_, err := files.Stat(ctx, u.Host, u.NodePath(), checksum.Adler32)
		switch {
		case err == nil:
			return nil, existsFailure(u)
		case errors.Is(err, hw.NotFound):
		case errors.Is(err, hw.Conflict):
			return nil, &failure{phase: PhaseDestination, url: u.String(), reason: "is a directory", err: err}
		default:
			return nil, hwFailure(PhaseDestination, u, err)
		}
	}
	return d, nil
}

func (d *nodeDest) close() {}

func (d *nodeDest) write(ctx context.Context, m *meter, p *plan) (checksum.Sum, *failure) {
	node, path := d.u.Host, d.u.NodePath()
	opts := hw.PutOptions{Algorithm: p.algo, NoOverwrite: !d.overwrite}
	if p.compareUser {
		// The node refuses bytes that do not match: nothing is stored.
		opts.Checksum = p.user.String()
	}
	fi, err := d.files.Put(ctx, node, path, upload{m}, opts)
	m.close()
	if f := m.failed(); f != nil {
		// The source failed, or failed its checks: the read that would
		// have ended the upload failed, so the node stored nothing.
		if err == nil {
			d.remove(ctx)
		}
		return checksum.Sum{}, f
	}
	if err != nil {
		if cf := ctxFailure(m.parent, m.ctx, p.stall); cf != nil {
			return checksum.Sum{}, cf
		}
		switch {
		case errors.Is(err, hw.Exists):
			return checksum.Sum{}, existsFailure(d.u)
		case errors.Is(err, hw.ChecksumMismatch):
			// The source's bytes matched (else m.failed): they changed on
			// the way.
			f := hwFailure(PhaseVerify, d.u, err)
			f.retryable = true
			return checksum.Sum{}, f
		}
		return checksum.Sum{}, hwFailure(PhaseDestination, d.u, err)
	}
	if !m.complete() {
		d.remove(ctx)
		return checksum.Sum{}, &failure{phase: PhaseTransfer, url: d.u.String(), retryable: true,
			reason: "the node stored the file before reading all of it; it was removed"}
	}
	srcSum := m.sum()
	destSum, _ := checksum.Parse(fi.Checksum)
	if p.verify.readsDestination() {
		if destSum.Algorithm != p.algo {
			st, err := d.files.Stat(ctx, node, path, p.algo)
			if err != nil {
				d.remove(ctx)
				if cf := ctxFailure(m.parent, nil, 0); cf != nil {
					return checksum.Sum{}, cf
				}
				f := hwFailure(PhaseVerify, d.u, err)
				f.reason = "reading the destination's checksum: " + f.reason
				return checksum.Sum{}, f
			}
			fi.Size = st.Size
			destSum, _ = checksum.Parse(st.Checksum)
		}
		if fi.Size != m.n || !destSum.Equal(srcSum) {
			d.remove(ctx)
			return checksum.Sum{}, destMismatch(d.u, fi.Size, m.n, destSum, srcSum, "the destination was removed")
		}
	}
	return destSum, nil
}

// remove deletes a destination that must not stay, even after ctx ended.
func (d *nodeDest) remove(ctx context.Context) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	_ = d.files.Delete(cctx, d.u.Host, d.u.NodePath())
}

// upload is the meter as the body of a node's Put. Its WriteTo, which
// net/http prefers to Read, sends the bytes in writes of up to BufferSize
// (as many chunks on the wire) rather than net/http's 32 KiB ones: fewer
// system calls and chunk headers on both ends. A read that fails (the
// source broke, or failed its checks at its end) ends WriteTo with the
// failure and without writing the bytes it returned, so that the upload
// never completes and the node stores nothing.
type upload struct{ m *meter }

func (u upload) Read(p []byte) (int, error) { return u.m.Read(p) }

func (u upload) WriteTo(w io.Writer) (int64, error) {
	buf := getBuffer()
	defer putBuffer(buf)
	var total int64
	for {
		// Fill the buffer: a read returns what the network had.
		n, err := 0, error(nil)
		for n < len(*buf) && err == nil {
			var k int
			k, err = u.m.Read((*buf)[n:])
			n += k
		}
		if err != nil && err != io.EOF {
			return total, err
		}
		if n > 0 {
			k, werr := w.Write((*buf)[:n])
			total += int64(k)
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
	}
}
