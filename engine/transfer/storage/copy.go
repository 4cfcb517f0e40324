package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/gridflow/gridflow/agent/checksum"
)

// More kinds, for errors.Is on the error of a Copy.
var (
	// ErrChecksumMismatch: checksums of the file disagree.
	ErrChecksumMismatch = errors.New("checksum mismatch")
	// ErrSizeMismatch: the file does not have the expected size.
	ErrSizeMismatch = errors.New("size mismatch")
)

// BufferSize is the size of the buffer bytes move through: a copy holds
// one such buffer, never the file.
const BufferSize = 1 << 20

// ProgressInterval is the least time between two calls of a copy's
// Progress, but for the last one.
const ProgressInterval = time.Second

// CopyRequest is one file to copy.
type CopyRequest struct {
	// ID is the file's id; the temporary name of a file destination
	// contains it, so that a retried copy removes what an earlier attempt
	// left. Empty: a random temporary name.
	ID string
	// Sources are tried in turn: a source that is missing or fails makes
	// way for the next one.
	Sources     []URL
	Destination URL
	// Checksum is the user's checksum of the file (zero: none). Its
	// algorithm is the one the copy hashes with (else DefaultAlgorithm).
	Checksum checksum.Sum
	// Verify says what is compared ("" is VerifyNone).
	Verify Verify
	// Overwrite allows replacing an existing destination.
	Overwrite bool
	// FileSize is the expected size in bytes, 0 unknown: another size
	// fails the copy.
	FileSize int64
	// Progress, when set, is called with the bytes copied so far at most
	// once per ProgressInterval, and once at the end. Calls never overlap;
	// they may come from a goroutine of the destination's driver.
	Progress func(bytesSoFar int64)
}

// CopyResult describes a successful copy.
type CopyResult struct {
	Source URL   // the source the bytes came from
	Size   int64 // bytes copied
	// SourceChecksum is the checksum of the bytes read from the source;
	// DestChecksum that of the destination: read back from it when Verify
	// is target or both, else the bytes written to it ("" when the
	// destination did not say). Both are "<algorithm>:<hex>".
	SourceChecksum, DestChecksum string
	// Duration is the time of the successful attempt, from opening its
	// source to the committed destination.
	Duration time.Duration
	// Attempts lists the failures of the sources tried before, in order.
	Attempts []SourceError
}

// plan is what a request decides for all of its attempts.
type plan struct {
	verify      Verify
	user        checksum.Sum
	algo        string
	compareUser bool
	fileSize    int64
	progress    func(int64)
	stall       time.Duration
}

// failure is the failure of one step of a copy.
type failure struct {
	phase     string
	url       string // the URL it concerns, if any
	reason    string // without the URL
	retryable bool
	next      bool  // the next source may do better
	err       error // the cause, or a kind (ErrNotFound…)
	status    int   // of an HTTP answer
}

func (f *failure) Error() string { return f.text() }

func (f *failure) text() string {
	if f.url == "" {
		return f.reason
	}
	return f.url + ": " + f.reason
}

func (f *failure) copyError(attempts []SourceError) *CopyError {
	err := f.err
	if err == nil {
		err = errors.New(f.text())
	}
	return &CopyError{Phase: f.phase, Reason: f.text(), Retryable: f.retryable, Attempts: attempts, Err: err}
}

// refusal turns an *Error of Check into a failure.
func refusal(phase string, err error) *failure {
	var e *Error
	if errors.As(err, &e) {
		return &failure{phase: phase, url: e.Subject, reason: e.Reason, err: err}
	}
	return &failure{phase: phase, reason: err.Error(), err: err}
}

var errStalled = errors.New("stalled")

// ctxFailure explains an ended context: the caller's (cancellation), or
// the attempt's own (a stall).
func ctxFailure(parent, attempt context.Context, stall time.Duration) *failure {
	if err := parent.Err(); err != nil {
		reason := "the copy was canceled"
		if errors.Is(err, context.DeadlineExceeded) {
			reason = "the copy ran out of time (deadline exceeded)"
		}
		return &failure{phase: PhaseTransfer, reason: reason, err: err}
	}
	if attempt != nil && errors.Is(context.Cause(attempt), errStalled) {
		return &failure{phase: PhaseTransfer, retryable: true, next: true, err: errStalled,
			reason: fmt.Sprintf("no byte moved for %s: the source or the destination stalled", stall)}
	}
	return nil
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, BufferSize); return &b }}

func getBuffer() *[]byte  { return bufPool.Get().(*[]byte) }
func putBuffer(b *[]byte) { bufPool.Put(b) }

// source is an opened source.
type source struct {
	r     io.Reader
	size  int64 // announced size, -1 unknown
	close func() error
	file  bool // a local file: a size that changes means the file did
	// fail classes an error of r after n bytes.
	fail func(err error, n int64) *failure
	// sum, when set, is the checksum with the copy's algorithm of the
	// bytes r yielded, computed by r itself as they passed (a node's
	// download checks them against the node's checksum that way): the
	// meter then does not hash them a second time.
	sum func() checksum.Sum
}

// dest is an opened destination.
type dest interface {
	// write streams m to the destination and, when every check passes,
	// makes it the destination; it returns the destination's checksum.
	write(ctx context.Context, m *meter, p *plan) (checksum.Sum, *failure)
	close()
}

// Copy copies one file from the first of its sources that works to its
// destination, streaming through one buffer of BufferSize and hashing the
// bytes as they pass; between two nodes whose drivers can, the destination
// node fetches the bytes from the source node itself (see pull.go). A file destination is written to a temporary name,
// synced, verified and only then renamed; a failed or canceled copy leaves
// the destination as it was and no temporary file.
//
// Errors are *CopyError: Phase says where, Reason why (listing each
// source's reason when all failed), Retryable whether to try again.
func (e *Endpoints) Copy(ctx context.Context, req CopyRequest) (CopyResult, error) {
	p, f := e.plan(req)
	if f != nil {
		return CopyResult{}, f.copyError(nil)
	}
	if err := e.Check(req.Destination, true); err != nil {
		return CopyResult{}, refusal(PhaseDestination, err).copyError(nil)
	}
	var dst dest
	switch req.Destination.Scheme {
	case SchemeFile:
		d, f := e.openFileDest(req.Destination, req.ID, req.Overwrite)
		if f != nil {
			return CopyResult{}, f.copyError(nil)
		}
		dst = d
	case SchemeNode:
		d, f := e.openNodeDest(ctx, req.Destination, req.Overwrite)
		if f != nil {
			if cf := ctxFailure(ctx, nil, 0); cf != nil {
				f = cf
			}
			return CopyResult{}, f.copyError(nil)
		}
		dst = d
	default:
		return CopyResult{}, refusal(PhaseDestination, forbiddenf(req.Destination.String(), "cannot be a destination")).copyError(nil)
	}
	defer dst.close()

	var attempts []SourceError
	var fails []*failure
	for _, u := range req.Sources {
		if cf := ctxFailure(ctx, nil, 0); cf != nil {
			return CopyResult{}, cf.copyError(attempts)
		}
		var res CopyResult
		var f *failure
		fallback := true
		if pl, ex, ok := e.thirdParty(ctx, u, dst); ok {
			res, f, fallback = e.pullAttempt(ctx, p, u, dst.(*nodeDest), pl, ex)
		}
		if fallback {
			res, f = e.attempt(ctx, p, u, dst)
		}
		if f == nil {
			res.Attempts = attempts
			return res, nil
		}
		if !f.next {
			return CopyResult{}, f.copyError(attempts)
		}
		attempts = append(attempts, SourceError{Source: u.String(), Reason: f.reason, Retryable: f.retryable})
		fails = append(fails, f)
	}
	return CopyResult{}, allFailed(fails, attempts)
}

// plan checks the request's options.
func (e *Endpoints) plan(req CopyRequest) (*plan, *failure) {
	p := &plan{verify: req.Verify, user: req.Checksum, algo: DefaultAlgorithm, fileSize: req.FileSize, progress: req.Progress, stall: e.StallTimeout}
	if p.verify == "" {
		p.verify = VerifyNone
	}
	if p.stall <= 0 {
		p.stall = DefaultStallTimeout
	}
	bad := func(phase string, err error) (*plan, *failure) { return nil, refusal(phase, err) }
	if !p.user.IsZero() {
		sum, err := checksum.Parse(p.user.String())
		if err != nil {
			return bad(PhaseVerify, invalidf("checksum", "%v", err))
		}
		p.user, p.algo = sum, sum.Algorithm
	}
	if err := p.verify.Check(p.user); err != nil {
		return bad(PhaseVerify, err)
	}
	p.compareUser = p.verify.comparesUser(p.user)
	switch {
	case req.FileSize < 0:
		return bad(PhaseVerify, invalidf("filesize", "%d is negative: give the size in bytes, or 0 when unknown", req.FileSize))
	case len(req.Sources) == 0:
		return bad(PhaseSource, invalidf("sources", "the file has no source: give at least one source URL"))
	case req.Destination.IsZero():
		return bad(PhaseDestination, invalidf("destination", "the file has no destination: %s", howToWrite))
	}
	return p, nil
}

// allFailed sums up the failures of every source.
func allFailed(fails []*failure, attempts []SourceError) *CopyError {
	if len(fails) == 1 {
		return fails[0].copyError(attempts)
	}
	phase, retry := fails[0].phase, false
	errs := make([]error, 0, len(fails))
	texts := make([]string, 0, len(fails))
	for _, f := range fails {
		if f.phase != phase {
			phase = PhaseSource
		}
		retry = retry || f.retryable
		err := f.err
		if err == nil {
			err = errors.New(f.text())
		}
		errs = append(errs, err)
		texts = append(texts, f.text())
	}
	return &CopyError{Phase: phase, Retryable: retry, Attempts: attempts, Err: errors.Join(errs...),
		Reason: fmt.Sprintf("all %d sources failed: %s", len(fails), strings.Join(texts, "; "))}
}

// attempt copies from one source.
func (e *Endpoints) attempt(ctx context.Context, p *plan, u URL, dst dest) (CopyResult, *failure) {
	start := time.Now()
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stall := time.AfterFunc(p.stall, func() { cancel(errStalled) })
	defer stall.Stop()

	src, f := e.openSource(actx, u, p)
	if f != nil {
		if cf := ctxFailure(ctx, actx, p.stall); cf != nil {
			return CopyResult{}, cf
		}
		f.next = true
		return CopyResult{}, f
	}
	m := &meter{parent: ctx, ctx: actx, src: src, url: u.String(), plan: p, stall: stall, last: start}
	m.h, _ = checksum.NewHasher(p.algo)
	sum, f := dst.write(actx, m, p)
	cancel(nil) // unblocks whatever still reads the source
	m.close()
	src.close()
	if f != nil {
		return CopyResult{}, f
	}
	m.mu.Lock()
	m.report(true)
	m.mu.Unlock()
	return CopyResult{Source: u, Size: m.n, SourceChecksum: m.sum().String(), DestChecksum: sum.String(), Duration: time.Since(start)}, nil
}

// openSource checks and opens one source.
func (e *Endpoints) openSource(ctx context.Context, u URL, p *plan) (*source, *failure) {
	if err := e.Check(u, false); err != nil {
		return nil, refusal(PhaseSource, err)
	}
	var src *source
	var f *failure
	switch u.Scheme {
	case SchemeFile:
		src, f = e.openFileSource(u)
	case SchemeHTTP, SchemeHTTPS:
		src, f = e.openHTTP(ctx, u)
	case SchemeNode:
		src, f = e.openNodeSource(ctx, u, p.algo)
	}
	if f != nil {
		return nil, f
	}
	if src.size >= 0 && p.fileSize > 0 && src.size != p.fileSize {
		src.close()
		return nil, sizeFailure(u.String(), src.size, p.fileSize)
	}
	return src, nil
}

func sizeFailure(u string, got, want int64) *failure {
	return &failure{phase: PhaseVerify, url: u, next: true, err: ErrSizeMismatch,
		reason: fmt.Sprintf("the source has %d bytes, not the file's expected size of %d", got, want)}
}

// meter is the source as the destination reads it: it hashes and counts
// the bytes, reports progress, resets the stall timer, and checks size and
// checksum at the end, failing the read that would otherwise return io.EOF
// so that a destination that commits on EOF (a node's Put) stores nothing.
// A destination's driver may read it from another goroutine, and go on
// after its call returned: close makes later reads fail without touching
// the source.
type meter struct {
	parent, ctx context.Context
	src         *source
	url         string
	plan        *plan
	stall       *time.Timer

	mu     sync.Mutex
	h      *checksum.Hasher
	n      int64
	last   time.Time // of the last progress report
	eof    bool      // the source ended and passed the checks
	closed bool
	fail   *failure
}

var errMeterClosed = errors.New("storage: read after the copy ended")

func (m *meter) Read(p []byte) (int, error) { return m.read(p, nil) }

// read reads the source into p and hashes the bytes: in place when ah is
// nil, else by handing p[:n] to ah, which the caller must then not reuse
// before ah is done with it.
func (m *meter) read(p []byte, ah *asyncHasher) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.fail != nil:
		return 0, m.fail
	case m.closed:
		return 0, errMeterClosed
	case m.eof:
		return 0, io.EOF
	}
	if f := ctxFailure(m.parent, m.ctx, m.plan.stall); f != nil {
		m.fail = f
		return 0, f
	}
	n, err := m.src.r.Read(p)
	if n > 0 {
		switch {
		case m.src.sum != nil: // the source hashes them
		case ah != nil:
			ah.submit(p[:n])
		default:
			m.h.Write(p[:n])
		}
		m.n += int64(n)
		m.stall.Reset(m.plan.stall)
		m.report(false)
	}
	switch {
	case err == nil:
		return n, nil
	case err == io.EOF:
		m.stall.Stop()
		if ah != nil {
			ah.close() // every byte hashed before the checks
		}
		if f := m.atEOF(); f != nil {
			m.fail = f
			return n, f
		}
		m.eof = true
		return n, io.EOF
	}
	if f := ctxFailure(m.parent, m.ctx, m.plan.stall); f != nil {
		m.fail = f
	} else {
		m.fail = m.src.fail(err, m.n)
		m.fail.next = true
	}
	return n, m.fail
}

// asyncHasher hashes chunks on its own goroutine, in order, so that
// hashing overlaps reading and writing: on two cores a copy then runs at
// the speed of the slower of the two, not of their sum.
type asyncHasher struct {
	in      chan []byte
	ack     chan struct{}
	done    chan struct{}
	pending int // chunks submitted and not yet acknowledged
	closed  bool
}

// newAsyncHasher hashes into h with at most depth chunks in flight.
func newAsyncHasher(h io.Writer, depth int) *asyncHasher {
	a := &asyncHasher{in: make(chan []byte, depth), ack: make(chan struct{}, depth), done: make(chan struct{})}
	go func() {
		defer close(a.done)
		for b := range a.in {
			h.Write(b)
			a.ack <- struct{}{}
		}
	}()
	return a
}

func (a *asyncHasher) submit(b []byte) {
	a.in <- b
	a.pending++
}

// waitOne waits until the oldest chunk in flight is hashed.
func (a *asyncHasher) waitOne() {
	<-a.ack
	a.pending--
}

// close waits until every chunk is hashed; it may be called again.
func (a *asyncHasher) close() {
	if !a.closed {
		a.closed = true
		close(a.in)
	}
	<-a.done
}

// atEOF checks the bytes of the source once they all passed.
func (m *meter) atEOF() *failure {
	if m.src.size >= 0 && m.n != m.src.size {
		f := &failure{phase: PhaseTransfer, url: m.url, retryable: true, next: true,
			reason: fmt.Sprintf("the source sent %d bytes but announced %d", m.n, m.src.size)}
		if m.src.file {
			f.reason = fmt.Sprintf("the file changed during the copy: %d bytes read, %d when opened", m.n, m.src.size)
		}
		return f
	}
	if m.plan.fileSize > 0 && m.n != m.plan.fileSize {
		return sizeFailure(m.url, m.n, m.plan.fileSize)
	}
	if m.plan.compareUser {
		if got := m.sumLocked(); !got.Equal(m.plan.user) {
			return &failure{phase: PhaseVerify, url: m.url, next: true, err: ErrChecksumMismatch,
				reason: fmt.Sprintf("the source's bytes have checksum %s, not the file's checksum %s", got, m.plan.user)}
		}
	}
	return nil
}

// report calls Progress when it is due (always when final); m.mu is held.
func (m *meter) report(final bool) {
	if m.plan.progress == nil {
		return
	}
	if now := time.Now(); final || now.Sub(m.last) >= ProgressInterval {
		m.last = now
		m.plan.progress(m.n)
	}
}

func (m *meter) close() {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
}

// failed returns why the reads failed, if they did.
func (m *meter) failed() *failure {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.fail
}

// complete reports whether the source was read to its end and checked.
func (m *meter) complete() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.eof
}

// sum is the checksum of the bytes read.
func (m *meter) sum() checksum.Sum {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sumLocked()
}

func (m *meter) sumLocked() checksum.Sum {
	if m.src.sum != nil {
		return m.src.sum()
	}
	return m.h.Sum(m.plan.algo)
}

// write streams the source into a new temporary file, syncs it, verifies
// it and commits it.
func (d *fileDest) write(ctx context.Context, m *meter, p *plan) (checksum.Sum, *failure) {
	f, fl := d.create()
	if fl != nil {
		return checksum.Sum{}, fl
	}
	// Two halves of one buffer: one is written (and hashed) while the
	// other fills.
	buf := getBuffer()
	defer putBuffer(buf)
	half := len(*buf) / 2
	halves := [2][]byte{(*buf)[:half:half], (*buf)[half:]}
	ah := newAsyncHasher(m.h, len(halves))
	defer ah.close()
	for i := 0; ; i = 1 - i {
		if ah.pending == len(halves) {
			ah.waitOne() // halves[i] is the oldest in flight
		}
		n, rerr := m.read(halves[i], ah)
		if n > 0 {
			if _, err := f.Write(halves[i][:n]); err != nil {
				d.discard(f)
				return checksum.Sum{}, fsFailure(PhaseDestination, d.u, err)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			d.discard(f)
			if fl := m.failed(); fl != nil {
				return checksum.Sum{}, fl
			}
			return checksum.Sum{}, &failure{phase: PhaseTransfer, reason: rerr.Error(), retryable: true, err: rerr}
		}
	}
	if err := f.Sync(); err != nil {
		d.discard(f)
		return checksum.Sum{}, fsFailure(PhaseDestination, d.u, err)
	}
	srcSum := m.sum()
	destSum := srcSum
	if p.verify.readsDestination() {
		sum, n, err := hashFileCtx(ctx, f, p.algo)
		if err != nil {
			d.discard(f)
			if cf := ctxFailure(m.parent, nil, 0); cf != nil {
				return checksum.Sum{}, cf
			}
			fl := fsFailure(PhaseVerify, d.u, err)
			fl.reason = "reading the written file back: " + fl.reason
			return checksum.Sum{}, fl
		}
		if n != m.n || !sum.Equal(srcSum) {
			d.discard(f)
			return checksum.Sum{}, destMismatch(d.u, n, m.n, sum, srcSum, "the file was left as it was")
		}
		destSum = sum
	}
	if cf := ctxFailure(m.parent, nil, 0); cf != nil {
		d.discard(f)
		return checksum.Sum{}, cf
	}
	if fl := d.commit(f); fl != nil {
		return checksum.Sum{}, fl
	}
	return destSum, nil
}

// destMismatch is a destination whose bytes differ from the source's:
// they were damaged on the way or at rest, and another try may do better.
func destMismatch(u URL, gotN, wantN int64, got, want checksum.Sum, outcome string) *failure {
	f := &failure{phase: PhaseVerify, url: u.String(), retryable: true, err: ErrChecksumMismatch}
	if gotN != wantN {
		f.err = ErrSizeMismatch
		f.reason = fmt.Sprintf("the destination holds %d bytes where %d were sent; %s", gotN, wantN, outcome)
	} else {
		f.reason = fmt.Sprintf("the destination's checksum %s differs from the source's %s; %s", got, want, outcome)
	}
	return f
}

// hashFileCtx reads f from its start, stopped by ctx, and returns its
// checksum with algo and its size. Reading overlaps hashing.
func hashFileCtx(ctx context.Context, f io.ReaderAt, algo string) (checksum.Sum, int64, error) {
	h, err := checksum.NewHasher(algo)
	if err != nil {
		return checksum.Sum{}, 0, err
	}
	buf := getBuffer()
	defer putBuffer(buf)
	half := len(*buf) / 2
	halves := [2][]byte{(*buf)[:half:half], (*buf)[half:]}
	ah := newAsyncHasher(h, len(halves))
	defer ah.close() // before the buffer goes back to the pool
	var off int64
	for i := 0; ; i = 1 - i {
		if ah.pending == len(halves) {
			ah.waitOne()
		}
		if err := ctx.Err(); err != nil {
			return checksum.Sum{}, off, err
		}
		n, err := f.ReadAt(halves[i], off)
		if n > 0 {
			ah.submit(halves[i][:n])
			off += int64(n)
		}
		if err == io.EOF {
			ah.close()
			return h.Sum(algo), off, nil
		}
		if err != nil {
			return checksum.Sum{}, off, err
		}
	}
}
