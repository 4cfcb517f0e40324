package storage

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/gridflow/gridflow/agent"
	"github.com/gridflow/gridflow/agent/checksum"
	"github.com/gridflow/gridflow/engine/hw"
	"github.com/gridflow/gridflow/engine/hw/agentclient"
)

// Third-party copies. When both ends of a copy are nodes whose drivers
// can, the destination node fetches the file from the source node itself
// (agentclient's PullFile): the bytes go from node to node, hashed once on
// each, and never through the engine, which only watches the progress the
// destination reports. A destination that cannot reach the source makes
// the copy fall back to carrying the bytes through the engine.

// exporter is the files of a source node that another node can read.
type exporter interface {
	ExportFile(node, path string) (string, http.Header, error)
}

// puller is the files of a destination node that fetches files itself.
type puller interface {
	PullFile(ctx context.Context, node, path, srcURL string, srcHeader http.Header, opts hw.PutOptions, size int64, progress func(int64)) (agentclient.PullResult, error)
}

// thirdParty returns the destination's puller and the source's exporter
// when a copy from u to d can be a third-party one.
func (e *Endpoints) thirdParty(ctx context.Context, u URL, d dest) (puller, exporter, bool) {
	nd, ok := d.(*nodeDest)
	if !ok || e.ProxyNodeCopies || u.Scheme != SchemeNode {
		return nil, nil, false
	}
	pl, ok := nd.files.(puller)
	if !ok {
		return nil, nil, false
	}
	if err := e.Check(u, false); err != nil {
		return nil, nil, false // the proxied attempt says why
	}
	files, f := e.nodeFiles(ctx, PhaseSource, u)
	if f != nil {
		return nil, nil, false
	}
	ex, ok := files.(exporter)
	return pl, ex, ok
}

// pullAttempt copies from the node source u to the node destination d as
// a third-party copy. fallback reports that the destination could not
// reach the source: the copy should carry the bytes itself.
func (e *Endpoints) pullAttempt(ctx context.Context, p *plan, u URL, d *nodeDest, pl puller, ex exporter) (res CopyResult, f *failure, fallback bool) {
	start := time.Now()
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stall := time.AfterFunc(p.stall, func() { cancel(errStalled) })
	defer stall.Stop()

	srcURL, hdr, err := ex.ExportFile(u.Host, u.NodePath())
	if err != nil {
		return CopyResult{}, &failure{phase: PhaseSource, url: u.String(), reason: err.Error(), next: true, err: err}, false
	}
	opts := hw.PutOptions{Algorithm: p.algo, NoOverwrite: !d.overwrite}
	if p.compareUser {
		// The destination refuses bytes that do not match: nothing is stored.
		opts.Checksum = p.user.String()
	}
	// Progress: the destination reports the bytes it stored; each report
	// is also a sign of life for the stall timer.
	var mu sync.Mutex
	last, moved := start, int64(0)
	progress := func(n int64) {
		mu.Lock()
		defer mu.Unlock()
		if n > moved {
			moved = n
			stall.Reset(p.stall)
		}
		if p.progress != nil && time.Since(last) >= ProgressInterval {
			last = time.Now()
			p.progress(n)
		}
	}
	r, err := pl.PullFile(actx, d.u.Host, d.u.NodePath(), srcURL, hdr, opts, p.fileSize, progress)
	stall.Stop()
	if err != nil {
		if cf := ctxFailure(ctx, actx, p.stall); cf != nil {
			return CopyResult{}, cf, false
		}
		f, fallback := pullFailure(p, u, d.u, err)
		return CopyResult{}, f, fallback
	}
	mu.Lock()
	if p.progress != nil {
		p.progress(r.Size)
	}
	mu.Unlock()
	srcSum, _ := checksum.Parse(r.SourceChecksum)
	destSum, _ := checksum.Parse(r.Checksum)
	if p.verify.readsDestination() && (srcSum.IsZero() || !destSum.Equal(srcSum)) {
		// The node checks this before it commits: a node that did not
		// (an older agent) keeps nothing it has not proven.
		d.remove(ctx)
		return CopyResult{}, destMismatch(d.u, r.Size, r.Size, destSum, srcSum, "the destination was removed"), false
	}
	if p.fileSize > 0 && r.Size != p.fileSize {
		d.remove(ctx)
		return CopyResult{}, sizeFailure(u.String(), r.Size, p.fileSize), false
	}
	return CopyResult{Source: u, Size: r.Size, SourceChecksum: srcSum.String(), DestChecksum: destSum.String(), Duration: time.Since(start)}, nil, false
}

// pullFailure classes the error of a third-party copy.
func pullFailure(p *plan, src, dst URL, err error) (*failure, bool) {
	var se *agentclient.SourceError
	if errors.As(err, &se) {
		switch {
		case se.Code == agent.CodeSourceUnreachable:
			return nil, true
		case se.Code == agent.CodeSizeMismatch:
			f := sizeFailure(src.String(), 0, p.fileSize)
			f.reason = se.Err.Err.Error()
			return f, false
		}
		f := hwFailure(PhaseSource, src, err)
		if errors.Is(err, hw.ChecksumMismatch) {
			// Damaged between the nodes: another try may do better.
			f.phase = PhaseVerify
		} else if se.Status == 0 {
			f.phase = PhaseTransfer
		}
		f.next = true
		return f, false
	}
	switch {
	case errors.Is(err, hw.Unsupported):
		// An agent that cannot fetch files itself.
		return nil, true
	case errors.Is(err, hw.Exists):
		return existsFailure(dst), false
	case errors.Is(err, hw.ChecksumMismatch):
		// The source's bytes reached the destination intact (it checked
		// them against the source's checksum) but are not the user's.
		return &failure{phase: PhaseVerify, url: src.String(), next: true, err: errors.Join(ErrChecksumMismatch, err),
			reason: "the source's bytes do not have the file's checksum " + p.user.String() + ": " + err.Error()}, false
	}
	return hwFailure(PhaseDestination, dst, err), false
}
