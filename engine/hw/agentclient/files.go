package agentclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/gridflow/gridflow/agent"
	"github.com/gridflow/gridflow/agent/checksum"
	"github.com/gridflow/gridflow/engine/hw"
)

func filePath(path string) (string, error) {
	p, err := hw.CleanPath(path)
	if err != nil {
		return "", err
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = seg(s)
	}
	return "/v1/files/" + strings.Join(segs, "/"), nil
}

func algorithm(algo string) (string, error) {
	if algo == "" {
		return checksum.Default, nil
	}
	return algo, checksum.CheckAlgorithm(algo)
}

// pick returns the checksum of algo among the X-Checksum values of h.
func pick(h http.Header, algo string) string {
	for _, v := range h.Values(agent.HeaderChecksum) {
		if s, err := checksum.Parse(v); err == nil && s.Algorithm == algo {
			return s.String()
		}
	}
	return ""
}

// Put streams r to the node's file area.
func (c *Client) Put(ctx context.Context, node, path string, r io.Reader, opts hw.PutOptions) (hw.FileInfo, error) {
	const op = "put file"
	p, err := filePath(path)
	if err != nil {
		return hw.FileInfo{}, hw.Errorf(op, node, hw.Invalid, "%v", err)
	}
	algo, err := algorithm(opts.Algorithm)
	if err != nil {
		return hw.FileInfo{}, hw.Errorf(op, node, hw.Invalid, "%v", err)
	}
	h := http.Header{"Content-Type": {"application/octet-stream"}}
	if opts.Checksum != "" {
		want, err := checksum.Parse(opts.Checksum)
		if err != nil {
			return hw.FileInfo{}, hw.Errorf(op, node, hw.Invalid, "%v", err)
		}
		h.Set(agent.HeaderChecksum, want.String())
		algo = want.Algorithm
	}
	h.Set(agent.HeaderChecksumAlgorithm, algo)
	if opts.NoOverwrite {
		h.Set("If-None-Match", "*")
	}
	// Hide any WriterTo/Len of r from net/http: the body streams as read.
	body := io.NopCloser(r)
	var fi agent.FileInfo
	req := request{op: op, node: node, method: http.MethodPut, path: p, header: h, body: body, long: true}
	resp, cancel, err := c.send(ctx, req)
	if err != nil {
		return hw.FileInfo{}, err
	}
	defer cancel()
	defer resp.Body.Close()
	if err := decode(resp.Body, &fi); err != nil {
		return hw.FileInfo{}, &hw.Error{Op: op, Node: node, Kind: hw.Internal, Retryable: true, Err: err}
	}
	return hw.FileInfo{Path: fi.Path, Size: fi.Size, ModTime: fi.ModTime, Checksum: pick(resp.Header, algo)}, nil
}

// Stat asks the node for a file's size and checksum (the node reads the file).
func (c *Client) Stat(ctx context.Context, node, path, algo string) (hw.FileInfo, error) {
	const op = "stat file"
	p, err := filePath(path)
	if err != nil {
		return hw.FileInfo{}, hw.Errorf(op, node, hw.Invalid, "%v", err)
	}
	if algo, err = algorithm(algo); err != nil {
		return hw.FileInfo{}, hw.Errorf(op, node, hw.Invalid, "%v", err)
	}
	req := request{op: op, node: node, method: http.MethodHead, path: p, header: http.Header{agent.HeaderChecksumAlgorithm: {algo}}, long: true}
	resp, cancel, err := c.send(ctx, req)
	if err != nil {
		return hw.FileInfo{}, err
	}
	defer cancel()
	resp.Body.Close()
	sum := pick(resp.Header, algo)
	if sum == "" {
		return hw.FileInfo{}, hw.Errorf(op, node, hw.Conflict, "%q is not a regular file", path)
	}
	size, _ := strconv.ParseInt(resp.Header.Get(agent.HeaderSize), 10, 64)
	mod, _ := http.ParseTime(resp.Header.Get("Last-Modified"))
	return hw.FileInfo{Path: path, Size: size, ModTime: mod, Checksum: sum}, nil
}

// Get streams a file from the node. The download fails at its end when the
// bytes do not match the checksum the agent computed while sending them.
func (c *Client) Get(ctx context.Context, node, path, algo string) (hw.Download, error) {
	const op = "get file"
	p, err := filePath(path)
	if err != nil {
		return nil, hw.Errorf(op, node, hw.Invalid, "%v", err)
	}
	if algo, err = algorithm(algo); err != nil {
		return nil, hw.Errorf(op, node, hw.Invalid, "%v", err)
	}
	req := request{op: op, node: node, method: http.MethodGet, path: p, header: http.Header{agent.HeaderChecksumAlgorithm: {algo}}, long: true}
	resp, cancel, err := c.send(ctx, req)
	if err != nil {
		return nil, err
	}
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/json") {
		resp.Body.Close()
		cancel()
		return nil, hw.Errorf(op, node, hw.Conflict, "%q is a directory", path)
	}
	size := int64(-1)
	if s, err := strconv.ParseInt(resp.Header.Get(agent.HeaderSize), 10, 64); err == nil {
		size = s
	}
	h, _ := checksum.NewHasher(algo)
	return &download{resp: resp, cancel: cancel, h: h, algo: algo, size: size, op: op, node: node, path: path}, nil
}

type download struct {
	resp     *http.Response
	cancel   context.CancelFunc
	h        *checksum.Hasher
	algo     string
	size     int64
	op, node string
	path     string
	checked  bool
}

func (d *download) Read(p []byte) (int, error) {
	n, err := d.resp.Body.Read(p)
	d.h.Write(p[:n])
	switch {
	case err == nil:
		return n, nil
	case errors.Is(err, io.EOF):
		if !d.checked {
			d.checked = true
			if cerr := d.verify(); cerr != nil {
				return n, cerr
			}
		}
		return n, io.EOF
	default:
		// A body cut short: the agent stopped or the network broke.
		return n, &hw.Error{Op: d.op, Node: d.node, Kind: hw.Unavailable, Retryable: true,
			Err: fmt.Errorf("download of %q interrupted after %d bytes: %v", d.path, d.h.Size(), err)}
	}
}

// verify compares the bytes read with the agent's trailer, which Go makes
// available once the body has been read to its end.
func (d *download) verify() error {
	if d.size >= 0 && d.h.Size() != d.size {
		return &hw.Error{Op: d.op, Node: d.node, Kind: hw.Unavailable, Retryable: true,
			Err: fmt.Errorf("download of %q ended after %d of %d bytes", d.path, d.h.Size(), d.size)}
	}
	want, err := checksum.Parse(pick(d.resp.Trailer, d.algo))
	if err != nil {
		return &hw.Error{Op: d.op, Node: d.node, Kind: hw.Internal, Retryable: true,
			Err: fmt.Errorf("download of %q ended without the agent's %s checksum", d.path, d.algo)}
	}
	if got := d.h.Sum(d.algo); !got.Equal(want) {
		return &hw.Error{Op: d.op, Node: d.node, Kind: hw.ChecksumMismatch, Retryable: true,
			Err: fmt.Errorf("%q arrived with %s, but the agent sent %s", d.path, got, want)}
	}
	return nil
}

func (d *download) Close() error {
	err := d.resp.Body.Close()
	d.cancel()
	return err
}

func (d *download) Size() int64 { return d.size }

func (d *download) Checksum() string { return d.h.Sum(d.algo).String() }

// Delete removes a file; a missing file is not an error.
func (c *Client) Delete(ctx context.Context, node, path string) error {
	const op = "delete file"
	p, err := filePath(path)
	if err != nil {
		return hw.Errorf(op, node, hw.Invalid, "%v", err)
	}
	err = c.call(ctx, request{op: op, node: node, method: http.MethodDelete, path: p}, nil, nil)
	if errors.Is(err, hw.NotFound) {
		return nil
	}
	return err
}

// ExportFile returns the URL at which node serves path, and the header that
// authorizes reading it: what another agent needs to fetch the file itself
// (PullFile).
func (c *Client) ExportFile(node, path string) (string, http.Header, error) {
	p, err := filePath(path)
	if err != nil {
		return "", nil, hw.Errorf("export file", node, hw.Invalid, "%v", err)
	}
	addr, ok := c.addrs[node]
	if !ok {
		return "", nil, hw.Errorf("export file", node, hw.NotFound, "no agent is configured for node %q", node)
	}
	return c.scheme + "://" + addr + p, http.Header{"Authorization": {"Bearer " + c.opts.Token}}, nil
}

// PullResult is what a PullFile stored.
type PullResult struct {
	hw.FileInfo
	// SourceChecksum is the checksum the source computed while sending,
	// with the algorithm of FileInfo.Checksum.
	SourceChecksum string
}

// SourceError is a failure of a PullFile caused by its source: the source
// refused, was unreachable, broke off or sent damaged bytes. The next
// source may do better; the destination is as it was.
type SourceError struct {
	// Status is what the source answered, 0 when no answer came.
	Status int
	// Code is the agent's problem code (agent.Code…).
	Code string
	Err  *hw.Error
}

func (e *SourceError) Error() string { return e.Err.Error() }
func (e *SourceError) Unwrap() error { return e.Err }

// SourceSide reports that the source, not the destination, failed.
func (e *SourceError) SourceSide() bool { return true }

// ProblemCode is the agent's problem code.
func (e *SourceError) ProblemCode() string { return e.Code }

// PullFile has node fetch the file at srcURL (another agent's, from
// ExportFile) with srcHeader and store it as path: a third-party copy, the
// bytes going from agent to agent. The node commits the file only once its
// bytes match the source's checksum and opts.Checksum, if given; size > 0
// is the size the source must have. progress, if not nil, hears the bytes
// stored so far about once a second. Errors caused by the source are
// *SourceError; an agent that cannot copy from another (it predates
// third-party copies) answers with an Unsupported error.
func (c *Client) PullFile(ctx context.Context, node, path, srcURL string, srcHeader http.Header, opts hw.PutOptions, size int64, progress func(int64)) (PullResult, error) {
	const op = "pull file"
	p, err := filePath(path)
	if err != nil {
		return PullResult{}, hw.Errorf(op, node, hw.Invalid, "%v", err)
	}
	algo, err := algorithm(opts.Algorithm)
	if err != nil {
		return PullResult{}, hw.Errorf(op, node, hw.Invalid, "%v", err)
	}
	h := http.Header{agent.HeaderSource: {srcURL}}
	if v := srcHeader.Get("Authorization"); v != "" {
		h.Set(agent.HeaderSourceAuthorization, v)
	}
	if opts.Checksum != "" {
		want, err := checksum.Parse(opts.Checksum)
		if err != nil {
			return PullResult{}, hw.Errorf(op, node, hw.Invalid, "%v", err)
		}
		h.Set(agent.HeaderChecksum, want.String())
		algo = want.Algorithm
	}
	h.Set(agent.HeaderChecksumAlgorithm, algo)
	if opts.NoOverwrite {
		h.Set("If-None-Match", "*")
	}
	if size > 0 {
		h.Set(agent.HeaderExpectedSize, strconv.FormatInt(size, 10))
	}
	if progress != nil {
		h.Set(agent.HeaderProgress, "1")
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{Got1xxResponse: func(code int, hd textproto.MIMEHeader) error {
			if n, err := strconv.ParseInt(hd.Get(agent.HeaderBytes), 10, 64); err == nil && code == http.StatusProcessing {
				progress(n)
			}
			return nil
		}})
	}
	req := request{op: op, node: node, method: http.MethodPost, path: p, header: h, body: http.NoBody, long: true}
	resp, cancel, err := c.send(ctx, req)
	if err != nil {
		return PullResult{}, err
	}
	defer cancel()
	defer resp.Body.Close()
	var fi agent.FileInfo
	if err := decode(resp.Body, &fi); err != nil {
		return PullResult{}, &hw.Error{Op: op, Node: node, Kind: hw.Internal, Retryable: true, Err: err}
	}
	return PullResult{FileInfo: hw.FileInfo{Path: fi.Path, Size: fi.Size, ModTime: fi.ModTime, Checksum: pick(resp.Header, algo)},
		SourceChecksum: resp.Header.Get(agent.HeaderSourceChecksum)}, nil
}
