package agent

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gridflow/gridflow/agent/checksum"
)

// The file area is DataDir/files, opened as an os.Root: every access stays
// beneath it, symbolic links included. Paths are checked lexically first so
// that a mistake gets a clear 400; what only the filesystem can tell (a
// symbolic link that leads out) is refused with 403.

// tmpMarker marks the temporary names uploads are written to before they are
// verified and renamed; such names cannot be addressed through the API.
const tmpMarker = ".gridflow-tmp-"

// copyBufferSize is the size of the buffer file bodies move through, both
// ways: large reads and writes make few system calls (and, for downloads,
// few chunks on the wire), where io.Copy's 32 KiB make one per 32 KiB.
const copyBufferSize = 1 << 20

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, copyBufferSize); return &b }}

func getCopyBuffer() *[]byte  { return copyBuffers.Get().(*[]byte) }
func putCopyBuffer(b *[]byte) { copyBuffers.Put(b) }

// writeBackEvery is how much an upload writes between two writeBack calls.
const writeBackEvery = 8 << 20

// writeBehind writes an upload to its file and has the kernel write the
// file to disk behind it, writeBackEvery bytes at a time (see writeBack),
// from another goroutine: starting the write-back costs the caller's CPU,
// which the upload's own goroutine needs for the bytes. wait waits for
// those goroutines; call it before the file closes.
type writeBehind struct {
	f *os.File
	// off is the bytes written; started, the end of the last range whose
	// write-back was started.
	off, started int64
	err          error // of the file's last write
	wg           sync.WaitGroup
}

func (w *writeBehind) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.err = err
	w.off += int64(n)
	if w.off-w.started >= writeBackEvery {
		off, n := w.started, w.off-w.started
		w.wg.Go(func() { writeBack(w.f, off, n) })
		w.started = w.off
	}
	return n, err
}

func (w *writeBehind) wait() { w.wg.Wait() }

// storeBody copies body to dst, hashing the bytes with h on another
// goroutine, so that hashing overlaps reading and writing: buf is used as
// two halves, one hashed while the other fills and is written. It returns
// once every byte read is hashed.
func storeBody(dst, h io.Writer, body io.Reader, buf []byte) error {
	half := len(buf) / 2
	halves := [2][]byte{buf[:half:half], buf[half:]}
	in := make(chan []byte, len(halves))
	ack := make(chan struct{}, len(halves))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for b := range in {
			h.Write(b)
			ack <- struct{}{}
		}
	}()
	defer func() { close(in); <-done }()
	pending := 0
	for i := 0; ; i = 1 - i {
		if pending == len(halves) {
			<-ack // halves[i], the oldest in flight, is hashed
			pending--
		}
		n, rerr := body.Read(halves[i])
		if n > 0 {
			in <- halves[i][:n]
			pending++
			if _, err := dst.Write(halves[i][:n]); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// cleanFilePath checks a path of the file area: relative, slash-separated,
// without '.', '..' or empty segments.
func cleanFilePath(p string) (string, error) {
	switch {
	case p == "":
		return "", errors.New("empty path: name a file, as in /v1/files/results/out.csv")
	case len(p) > 4096:
		return "", errors.New("path longer than 4096 bytes")
	case strings.HasPrefix(p, "/"):
		return "", fmt.Errorf("%q is absolute: name files relative to the file area", p)
	case strings.ContainsRune(p, 0):
		return "", errors.New("path holds a NUL byte")
	}
	for _, seg := range strings.Split(p, "/") {
		switch {
		case seg == "" || seg == "." || seg == "..":
			return "", fmt.Errorf("%q has '.', '..' or empty segments: name files relative to the file area, without them", p)
		case strings.Contains(seg, tmpMarker):
			return "", fmt.Errorf("%q uses the reserved marker %q", p, tmpMarker)
		}
	}
	return p, nil
}

// fileError answers an error of the file area.
func fileError(w http.ResponseWriter, p string, err error) {
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe) && pe.Err.Error() == "path escapes from parent",
		errors.As(err, &le) && le.Err.Error() == "path escapes from parent":
		writeProblem(w, http.StatusForbidden, CodeForbidden, "Path leaves the file area", fmt.Sprintf("%q leads outside the file area through a symbolic link", p))
	case errors.Is(err, fs.ErrNotExist):
		writeProblem(w, http.StatusNotFound, CodeNotFound, "No such file", fmt.Sprintf("%q does not exist in the file area", p))
	case errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.EISDIR):
		writeProblem(w, http.StatusConflict, CodeConflict, "Not a file", fmt.Sprintf("%q: %v", p, err))
	default:
		writeProblem(w, http.StatusInternalServerError, CodeInternal, "File area error", err.Error())
	}
}

// filePath reads and checks the {path...} of a request.
func filePath(w http.ResponseWriter, r *http.Request) (string, bool) {
	p, err := cleanFilePath(r.PathValue("path"))
	if err != nil {
		writeProblem(w, http.StatusBadRequest, CodeInvalid, "Invalid path", err.Error())
		return "", false
	}
	return p, true
}

// wantedAlgorithms reads X-Checksum-Algorithm (or ?checksum=).
func wantedAlgorithms(r *http.Request) ([]string, error) {
	v := r.Header.Get(HeaderChecksumAlgorithm)
	if v == "" {
		v = r.URL.Query().Get("checksum")
	}
	if v == "" {
		return []string{checksum.Default}, nil
	}
	var out []string
	for a := range strings.SplitSeq(v, ",") {
		a = strings.ToLower(strings.TrimSpace(a))
		if err := checksum.CheckAlgorithm(a); err != nil {
			return nil, err
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

func setChecksums(h http.Header, sums []checksum.Sum) {
	for _, s := range sums {
		h.Add(HeaderChecksum, s.String())
	}
}

func sumStrings(sums []checksum.Sum) []string {
	out := make([]string, len(sums))
	for i, s := range sums {
		out[i] = s.String()
	}
	return out
}

// handlePutFile stores the body under the path, or with X-Gridflow-Source
// the bytes of another agent's file (see files_pull.go). The bytes go to a
// temporary name while every requested checksum is computed; an expected
// X-Checksum that does not match leaves nothing behind. If-None-Match: *
// refuses to replace an existing file.
func (a *Agent) handlePutFile(w http.ResponseWriter, r *http.Request) {
	p, ok := filePath(w, r)
	if !ok {
		return
	}
	algos, err := wantedAlgorithms(r)
	if err != nil {
		writeProblem(w, http.StatusBadRequest, CodeInvalid, "Invalid checksum algorithm", err.Error())
		return
	}
	var expected checksum.Sum
	if v := r.Header.Get(HeaderChecksum); v != "" {
		if expected, err = checksum.Parse(v); err != nil {
			writeProblem(w, http.StatusBadRequest, CodeInvalid, "Invalid expected checksum", err.Error())
			return
		}
		if !slices.Contains(algos, expected.Algorithm) {
			algos = append(algos, expected.Algorithm)
		}
	}
	noClobber := r.Header.Get("If-None-Match") == "*"
	existed := false
	if fi, err := a.files.Stat(p); err == nil {
		if fi.IsDir() {
			writeProblem(w, http.StatusConflict, CodeConflict, "Path is a directory", fmt.Sprintf("%q is a directory of the file area", p))
			return
		}
		if noClobber {
			writeProblem(w, http.StatusPreconditionFailed, CodeExists, "File exists", fmt.Sprintf("%q exists and If-None-Match: * forbids replacing it", p))
			return
		}
		existed = true
	} else if !errors.Is(err, fs.ErrNotExist) {
		fileError(w, p, err)
		return
	}
	// The bytes: the request's body, or those of another agent's file.
	body := io.Reader(r.Body)
	var pull *pullSource
	if from := r.Header.Get(HeaderSource); from != "" {
		if r.ContentLength != 0 {
			writeProblem(w, http.StatusBadRequest, CodeInvalid, "Body and source",
				fmt.Sprintf("a PUT with %s fetches the bytes from the source: send no body with it", HeaderSource))
			return
		}
		algo := algos[0]
		if !expected.IsZero() {
			algo = expected.Algorithm
		}
		if pull, ok = a.openPull(w, r, from, algo); !ok {
			return
		}
		defer pull.Close()
		body = pull
	}
	dir := path.Dir(p)
	if dir != "." {
		if err := a.files.MkdirAll(dir, 0o755); err != nil {
			fileError(w, p, err)
			return
		}
	}
	tmp := path.Join(dir, tmpMarker+newID())
	f, err := a.files.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		fileError(w, p, err)
		return
	}
	committed := false
	defer func() {
		if !committed {
			f.Close()
			_ = a.files.Remove(tmp)
		}
	}()
	h, _ := checksum.NewHasher(algos...)
	buf := getCopyBuffer()
	defer putCopyBuffer(buf)
	wb := &writeBehind{f: f}
	defer wb.wait() // before the file closes
	var sink io.Writer = wb
	if pull != nil && r.Header.Get(HeaderProgress) != "" {
		sink = io.MultiWriter(wb, &progressWriter{w: w, last: time.Now()})
	}
	err = storeBody(sink, h, body, *buf)
	wb.wait()
	if err != nil {
		switch {
		case r.Context().Err() != nil:
			writeProblem(w, http.StatusBadRequest, CodeInvalid, "Upload canceled", fmt.Sprintf("%q: the request ended; nothing was stored", p))
		case wb.err != nil:
			fileError(w, p, wb.err)
		case pull != nil:
			pull.interrupted(w, p, err)
		default:
			writeProblem(w, http.StatusBadRequest, CodeInvalid, "Upload interrupted", fmt.Sprintf("reading the body of %q: %v; nothing was stored", p, err))
		}
		return
	}
	var sourceSum checksum.Sum
	if pull != nil {
		if sourceSum, ok = pull.verify(w, p, h); !ok {
			return
		}
	}
	if !expected.IsZero() {
		if got := h.Sum(expected.Algorithm); !got.Equal(expected) {
			writeProblem(w, http.StatusUnprocessableEntity, CodeChecksumMismatch, "Checksum mismatch",
				fmt.Sprintf("the body of %q has %s, not the expected %s; nothing was stored", p, got, expected))
			return
		}
	}
	if err := f.Sync(); err != nil {
		fileError(w, p, err)
		return
	}
	if err := f.Close(); err != nil {
		fileError(w, p, err)
		return
	}
	if err := a.files.Rename(tmp, p); err != nil {
		fileError(w, p, err)
		return
	}
	committed = true
	fi, err := a.files.Stat(p)
	if err != nil {
		fileError(w, p, err)
		return
	}
	if pull != nil {
		a.log.Info("stored a file fetched from another agent", "path", p, "source", pull.url, "bytes", fi.Size(), "checksum", sourceSum.String())
	}
	sums := h.Sums()
	setChecksums(w.Header(), sums)
	if !sourceSum.IsZero() {
		w.Header().Set(HeaderSourceChecksum, sourceSum.String())
	}
	status := http.StatusCreated
	if existed {
		status = http.StatusOK
	}
	writeJSON(w, status, FileInfo{Path: p, Size: fi.Size(), ModTime: fi.ModTime().UTC(), Checksums: sumStrings(sums)})
}

// handleGetFile serves a file as a stream that ends with its checksum as the
// X-Checksum trailer, computed while streaming; HEAD reads the file to give the
// checksum as a header. A directory answers with a JSON listing.
func (a *Agent) handleGetFile(w http.ResponseWriter, r *http.Request) {
	// A directory may be named with a trailing slash, the root with none.
	p := "."
	if raw := strings.TrimSuffix(r.PathValue("path"), "/"); raw != "" {
		var err error
		if p, err = cleanFilePath(raw); err != nil {
			writeProblem(w, http.StatusBadRequest, CodeInvalid, "Invalid path", err.Error())
			return
		}
	}
	algos, err := wantedAlgorithms(r)
	if err != nil {
		writeProblem(w, http.StatusBadRequest, CodeInvalid, "Invalid checksum algorithm", err.Error())
		return
	}
	f, err := a.files.Open(p)
	if err != nil {
		fileError(w, p, err)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		fileError(w, p, err)
		return
	}
	if fi.IsDir() {
		a.listDir(w, r, p, f)
		return
	}
	if !fi.Mode().IsRegular() {
		writeProblem(w, http.StatusConflict, CodeConflict, "Not a regular file", fmt.Sprintf("%q is a %s", p, fi.Mode().Type()))
		return
	}
	hd := w.Header()
	hd.Set("Last-Modified", fi.ModTime().UTC().Format(http.TimeFormat))
	hd.Set(HeaderSize, strconv.FormatInt(fi.Size(), 10))
	hd.Set("Content-Type", "application/octet-stream")
	h, _ := checksum.NewHasher(algos...)
	if r.Method == http.MethodHead {
		if _, err := io.Copy(h, f); err != nil {
			fileError(w, p, err)
			return
		}
		setChecksums(hd, h.Sums())
		hd.Set("Content-Length", strconv.FormatInt(h.Size(), 10))
		w.WriteHeader(http.StatusOK)
		return
	}
	hd.Set("Trailer", HeaderChecksum)
	w.WriteHeader(http.StatusOK)
	buf := getCopyBuffer()
	defer putCopyBuffer(buf)
	// Through the buffer: each read of the file is one chunk on the wire.
	if _, err := io.CopyBuffer(io.MultiWriter(w, h), struct{ io.Reader }{f}, *buf); err != nil {
		// The client sees a body cut short without the trailer.
		a.log.Warn("file download interrupted", "path", p, "error", err)
		return
	}
	setChecksums(hd, h.Sums())
}

func (a *Agent) listDir(w http.ResponseWriter, r *http.Request, p string, f *os.File) {
	entries, err := f.ReadDir(-1)
	if err != nil {
		fileError(w, p, err)
		return
	}
	out := []FileInfo{}
	for _, e := range entries {
		if strings.Contains(e.Name(), tmpMarker) {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		out = append(out, FileInfo{Path: path.Join(p, e.Name()), Size: fi.Size(), Dir: fi.IsDir(), ModTime: fi.ModTime().UTC()})
	}
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// handleDeleteFile removes a file, or a directory with ?recursive=true.
func (a *Agent) handleDeleteFile(w http.ResponseWriter, r *http.Request) {
	p, ok := filePath(w, r)
	if !ok {
		return
	}
	fi, err := a.files.Lstat(p)
	if err != nil {
		fileError(w, p, err)
		return
	}
	if fi.IsDir() && r.URL.Query().Get("recursive") == "true" {
		err = a.files.RemoveAll(p)
	} else {
		err = a.files.Remove(p)
	}
	if err != nil {
		if fi.IsDir() && !errors.Is(err, fs.ErrNotExist) {
			writeProblem(w, http.StatusConflict, CodeConflict, "Directory not removed", fmt.Sprintf("%q: %v; add ?recursive=true to remove a directory and its content", p, err))
			return
		}
		fileError(w, p, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
