package storage

import (
	"context"
	"errors"
	"io"

	"github.com/gridflow/gridflow/agent/checksum"
	"github.com/gridflow/gridflow/engine/hw"
)

// Stat returns the size of the file u names and, unless algorithm is "",
// its checksum with that algorithm: a file is read to its end for it, a
// node computes it; an http(s) URL gives only its size (from HEAD; -1 when
// the server does not say) and a zero checksum. Errors are *CopyError in
// PhaseSource; errors.Is(err, ErrNotFound) tells a missing file.
func (e *Endpoints) Stat(ctx context.Context, u URL, algorithm string) (size int64, sum checksum.Sum, err error) {
	if algorithm != "" {
		if err := checksum.CheckAlgorithm(algorithm); err != nil {
			return 0, checksum.Sum{}, refusal(PhaseSource, invalidf("algorithm", "%v", err)).copyError(nil)
		}
	}
	if err := e.Check(u, false); err != nil {
		return 0, checksum.Sum{}, refusal(PhaseSource, err).copyError(nil)
	}
	var f *failure
	switch u.Scheme {
	case SchemeFile:
		var src *source
		if src, f = e.openFileSource(u); f != nil {
			break
		}
		defer src.close()
		size = src.size
		if algorithm != "" {
			var n int64
			var err error
			sum, n, err = hashFileCtx(ctx, src.r.(io.ReaderAt), algorithm)
			switch {
			case err != nil && ctx.Err() != nil:
				f = ctxFailure(ctx, nil, 0)
			case err != nil:
				f = fsFailure(PhaseSource, u, err)
			default:
				size = n
			}
		}
	case SchemeHTTP, SchemeHTTPS:
		size, f = e.statHTTP(ctx, u)
	case SchemeNode:
		var files hw.Files
		if files, f = e.nodeFiles(ctx, PhaseSource, u); f != nil {
			break
		}
		algo := algorithm
		if algo == "" {
			algo = checksum.Adler32 // the cheapest for the node
		}
		fi, err := files.Stat(ctx, u.Host, u.NodePath(), algo)
		if err != nil {
			f = hwFailure(PhaseSource, u, err)
			break
		}
		size = fi.Size
		if algorithm != "" {
			if sum, err = checksum.Parse(fi.Checksum); err != nil {
				f = &failure{phase: PhaseSource, url: u.String(), retryable: true, err: err,
					reason: "the node answered without a valid checksum: " + err.Error()}
			}
		}
	}
	if f != nil {
		if cf := ctxFailure(ctx, nil, 0); cf != nil {
			f = cf
		}
		return 0, checksum.Sum{}, f.copyError(nil)
	}
	return size, sum, nil
}

// Remove deletes the file u names, as when a job is canceled; a file that
// is not there is no error, a directory is not removed. Errors are
// *CopyError in PhaseDestination.
func (e *Endpoints) Remove(ctx context.Context, u URL) error {
	if err := e.Check(u, true); err != nil {
		return refusal(PhaseDestination, err).copyError(nil)
	}
	switch u.Scheme {
	case SchemeFile:
		return e.removeFile(u)
	case SchemeNode:
		files, f := e.nodeFiles(ctx, PhaseDestination, u)
		if f != nil {
			return f.copyError(nil)
		}
		if err := files.Delete(ctx, u.Host, u.NodePath()); err != nil && !errors.Is(err, hw.NotFound) {
			return hwFailure(PhaseDestination, u, err).copyError(nil)
		}
	}
	return nil
}

// Cleanup removes what the copy with this id may have left for its
// destination u after a crash: the temporary file of a file destination
// (nodes clean up their own). Copy cleans up by itself when it returns; a
// canceled job calls Cleanup (and Remove) for files whose copy may have
// been cut short by the loss of a worker.
func (e *Endpoints) Cleanup(ctx context.Context, u URL, id string) error {
	if err := e.Check(u, true); err != nil {
		return refusal(PhaseDestination, err).copyError(nil)
	}
	if u.Scheme == SchemeFile {
		return e.removeFileTemp(u, id)
	}
	return nil
}
