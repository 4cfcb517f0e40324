package storage

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
)

// Temporary files of file destinations are named ".NAME.gridflow-TAG.part"
// beside the destination, TAG being the copy's ID: a retried copy of the
// same file finds and removes what an earlier attempt left.
const (
	tempMarker = ".gridflow-"
	tempSuffix = ".part"
	nameMax    = 255 // bytes in a file name on common file systems
)

var idTagPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// tempName is the temporary name for destination name and copy id.
func tempName(name, id string) string {
	tag := id
	if !idTagPattern.MatchString(id) {
		if id == "" {
			var b [8]byte
			_, _ = rand.Read(b[:])
			tag = "anon-" + hex.EncodeToString(b[:])
		} else {
			s := sha256.Sum256([]byte(id))
			tag = "h" + hex.EncodeToString(s[:12])
		}
	}
	tail := tempMarker + tag + tempSuffix
	if room := nameMax - 1 - len(tail); len(name) > room {
		name = strings.ToValidUTF8(name[:room], "")
	}
	return "." + name + tail
}

// isTempName reports whether a name is that of a temporary file.
func isTempName(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, tempMarker) && strings.HasSuffix(name, tempSuffix)
}

// fsFailure classes an error of the file system.
func fsFailure(phase string, u URL, err error) *failure {
	f := &failure{phase: phase, err: err}
	msg := err.Error()
	var pe *fs.PathError
	var le *os.LinkError
	if errors.As(err, &pe) {
		msg = pe.Err.Error()
	} else if errors.As(err, &le) {
		msg = le.Err.Error()
	}
	switch {
	case msg == "path escapes from parent":
		f.reason = "leads out of its file root through a symbolic link"
		f.err = &Error{Subject: u.String(), Kind: ErrForbidden, Reason: f.reason}
	case errors.Is(err, fs.ErrNotExist):
		f.reason, f.err = "no such file", errors.Join(ErrNotFound, err)
	case errors.Is(err, fs.ErrPermission):
		f.reason = "permission denied: the server's user may not access it"
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		f.reason, f.retryable = "no space left on the device (or quota exceeded)", true
	case errors.Is(err, syscall.EROFS):
		f.reason = "read-only file system"
	case errors.Is(err, syscall.ENOTDIR):
		f.reason = "a parent directory is a file"
	case errors.Is(err, syscall.EISDIR):
		f.reason = "is a directory"
	case errors.Is(err, syscall.ENAMETOOLONG):
		f.reason = "file name too long"
	default:
		f.reason, f.retryable = msg, true
	}
	f.url = u.String()
	return f
}

// openRoot opens the root of a place.
func (pl place) openRoot(phase string, u URL) (*os.Root, *failure) {
	r, err := os.OpenRoot(pl.root)
	if err != nil {
		return nil, fsFailure(phase, u, err)
	}
	return r, nil
}

// openFileSource opens a regular file for reading.
func (e *Endpoints) openFileSource(u URL) (*source, *failure) {
	pl, err := e.Policy.locate(u)
	if err != nil {
		return nil, refusal(PhaseSource, err)
	}
	root, f := pl.openRoot(PhaseSource, u)
	if f != nil {
		return nil, f
	}
	defer root.Close()
	// O_NONBLOCK: opening a FIFO must not hang; it is refused below.
	file, err := root.OpenFile(pl.rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fsFailure(PhaseSource, u, err)
	}
	fi, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, fsFailure(PhaseSource, u, err)
	}
	if !fi.Mode().IsRegular() {
		file.Close()
		what := "not a regular file"
		if fi.IsDir() {
			what = "a directory"
		}
		return nil, &failure{phase: PhaseSource, url: u.String(), reason: "is " + what + ", not a file to copy"}
	}
	return &source{r: file, size: fi.Size(), close: file.Close, file: true}, nil
}

// fileDest writes a file destination: a temporary file beside it, renamed
// (or linked, without overwrite) once complete and verified.
type fileDest struct {
	u         URL
	root      *os.Root
	rel       string // the destination, relative to root
	tmp       string // the temporary file, relative to root
	overwrite bool
}

// openFileDest checks the destination, creates its parent directories and
// removes a stale temporary file of the same copy.
func (e *Endpoints) openFileDest(u URL, id string, overwrite bool) (*fileDest, *failure) {
	pl, err := e.Policy.locate(u)
	if err != nil {
		return nil, refusal(PhaseDestination, err)
	}
	root, f := pl.openRoot(PhaseDestination, u)
	if f != nil {
		return nil, f
	}
	d := &fileDest{u: u, root: root, rel: pl.rel, overwrite: overwrite}
	d.tmp = filepath.Join(filepath.Dir(pl.rel), tempName(filepath.Base(pl.rel), id))
	if f := d.checkTarget(); f != nil {
		root.Close()
		return nil, f
	}
	if dir := filepath.Dir(pl.rel); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			root.Close()
			return nil, fsFailure(PhaseDestination, u, err)
		}
	}
	if err := root.Remove(d.tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		root.Close()
		return nil, fsFailure(PhaseDestination, u, err)
	}
	return d, nil
}

// checkTarget refuses a destination that is a directory, or that exists
// when it must not be replaced.
func (d *fileDest) checkTarget() *failure {
	fi, err := d.root.Lstat(d.rel)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil: // a parent that is a file, a link leading out…
		return fsFailure(PhaseDestination, d.u, err)
	case fi.IsDir():
		return &failure{phase: PhaseDestination, url: d.u.String(), reason: "is a directory"}
	case !d.overwrite:
		return existsFailure(d.u)
	}
	return nil
}

func existsFailure(u URL) *failure {
	return &failure{phase: PhaseDestination, url: u.String(), reason: "the destination exists and the job does not allow overwriting it",
		err: ErrExists}
}

// create makes the temporary file, empty.
func (d *fileDest) create() (*os.File, *failure) {
	const flags = os.O_RDWR | os.O_CREATE | os.O_EXCL
	f, err := d.root.OpenFile(d.tmp, flags, 0o644)
	if errors.Is(err, fs.ErrExist) {
		// Left by a concurrent attempt of the same copy: it is stale now.
		if err = d.root.Remove(d.tmp); err == nil {
			f, err = d.root.OpenFile(d.tmp, flags, 0o644)
		}
	}
	if err != nil {
		return nil, fsFailure(PhaseDestination, d.u, err)
	}
	return f, nil
}

// discard removes the temporary file f.
func (d *fileDest) discard(f *os.File) {
	if fi, err := d.root.Lstat(d.tmp); err == nil && d.ours(f, fi) {
		_ = d.root.Remove(d.tmp)
	}
	f.Close()
}

// ours reports whether the temporary name still names f (another attempt
// of the same copy may have replaced it).
func (d *fileDest) ours(f *os.File, named os.FileInfo) bool {
	fi, err := f.Stat()
	return err == nil && os.SameFile(fi, named)
}

// commit makes the synced and verified temporary file f the destination.
func (d *fileDest) commit(f *os.File) *failure {
	named, err := d.root.Lstat(d.tmp)
	if err != nil || !d.ours(f, named) {
		d.discard(f)
		return &failure{phase: PhaseDestination, url: d.u.String(), retryable: true,
			reason: "the temporary file was replaced by another attempt of the same copy"}
	}
	if err := f.Close(); err != nil {
		_ = d.root.Remove(d.tmp)
		return fsFailure(PhaseDestination, d.u, err)
	}
	if d.overwrite {
		err = d.root.Rename(d.tmp, d.rel)
	} else {
		// A link fails when the name exists, atomically: no file that
		// appeared during the copy is replaced.
		err = d.root.Link(d.tmp, d.rel)
		if err != nil && !errors.Is(err, fs.ErrExist) && linkUnsupported(err) {
			if _, serr := d.root.Lstat(d.rel); serr == nil {
				err = fs.ErrExist
			} else {
				err = d.root.Rename(d.tmp, d.rel)
			}
		}
		if err == nil {
			// Committed: the temporary name is only a second link now.
			_ = d.root.Remove(d.tmp)
		}
	}
	if err != nil {
		_ = d.root.Remove(d.tmp)
		if errors.Is(err, fs.ErrExist) {
			return existsFailure(d.u)
		}
		return fsFailure(PhaseDestination, d.u, err)
	}
	// The rename is durable once the directory is synced.
	if dir, err := d.root.Open(filepath.Dir(d.rel)); err == nil {
		_ = dir.Sync()
		dir.Close()
	}
	return nil
}

// linkUnsupported reports a file system without hard links.
func linkUnsupported(err error) bool {
	return errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EOPNOTSUPP) ||
		errors.Is(err, syscall.EMLINK) || errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EXDEV)
}

func (d *fileDest) close() { d.root.Close() }

// removeFile deletes a file URL; a missing file is no error.
func (e *Endpoints) removeFile(u URL) error {
	pl, err := e.Policy.locate(u)
	if err != nil {
		return refusal(PhaseDestination, err).copyError(nil)
	}
	root, f := pl.openRoot(PhaseDestination, u)
	if f != nil {
		return f.copyError(nil)
	}
	defer root.Close()
	fi, err := root.Lstat(pl.rel)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return nil
	case err != nil:
		return fsFailure(PhaseDestination, u, err).copyError(nil)
	case fi.IsDir():
		return (&failure{phase: PhaseDestination, url: u.String(), reason: "is a directory; only files are removed"}).copyError(nil)
	}
	if err := root.Remove(pl.rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fsFailure(PhaseDestination, u, err).copyError(nil)
	}
	return nil
}

// removeFileTemp deletes the temporary file copy id left for u.
func (e *Endpoints) removeFileTemp(u URL, id string) error {
	if id == "" {
		return nil
	}
	pl, err := e.Policy.locate(u)
	if err != nil {
		return refusal(PhaseDestination, err).copyError(nil)
	}
	root, f := pl.openRoot(PhaseDestination, u)
	if f != nil {
		return f.copyError(nil)
	}
	defer root.Close()
	tmp := filepath.Join(filepath.Dir(pl.rel), tempName(filepath.Base(pl.rel), id))
	if err := root.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
		return fsFailure(PhaseDestination, u, err).copyError(nil)
	}
	return nil
}
