package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gridflow/gridflow/agent/checksum"
)

// Third-party copies: a POST to a file's URL with X-Gridflow-Source and no
// body has the agent fetch the bytes itself from another agent's file (a
// GET of that agent's /v1/files/…), so that a copy between two nodes goes
// from node to node instead of through the engine, as FTS3's third-party
// copies do between storage endpoints. Everything else is a PUT's: the
// bytes go to a temporary name while they are hashed, and are committed
// only once they match both the source's checksum (its trailer) and the
// expected X-Checksum, if any; If-None-Match: * still refuses to replace.
// (POST rather than PUT: an agent that predates third-party copies answers
// 405 instead of storing an empty file, and the engine carries the bytes.)
const (
	// HeaderSource is the URL of the file to fetch:
	// http(s)://host:port/v1/files/<path> of another agent.
	HeaderSource = "X-Gridflow-Source"
	// HeaderSourceAuthorization is the Authorization header to send to
	// the source.
	HeaderSourceAuthorization = "X-Gridflow-Source-Authorization"
	// HeaderExpectedSize is the size the source's file must have.
	HeaderExpectedSize = "X-Gridflow-Expected-Size"
	// HeaderProgress in a request asks for progress while the bytes flow:
	// 102 Processing responses, at most one per second, whose
	// HeaderBytes says how many bytes were stored so far.
	HeaderProgress = "X-Gridflow-Progress"
	// HeaderBytes is the bytes a third-party copy has stored so far.
	HeaderBytes = "X-Gridflow-Bytes"
	// HeaderSourceStatus, in the answer of a third-party copy that failed
	// because of its source, is the status the source answered (0 when no
	// answer came, or the exchange broke). Such answers have status 502.
	HeaderSourceStatus = "X-Gridflow-Source-Status"
	// HeaderSourceChecksum, in the answer of a third-party copy, is the
	// checksum the source computed while sending.
	HeaderSourceChecksum = "X-Gridflow-Source-Checksum"

	// CodeSizeMismatch: the source's file does not have the expected size.
	CodeSizeMismatch = "size_mismatch"
	// CodeSourceUnreachable: the agent could not connect to the source
	// (the engine, which can, may carry the bytes itself).
	CodeSourceUnreachable = "source_unreachable"
)

// progressInterval is the least time between two progress responses.
const progressInterval = time.Second

// pullSource is the body of another agent's file, as a third-party copy
// reads it.
type pullSource struct {
	resp *http.Response
	url  string
	algo string
	size int64 // announced, -1 unknown
	n    int64
}

func (s *pullSource) Read(p []byte) (int, error) {
	n, err := s.resp.Body.Read(p)
	s.n += int64(n)
	return n, err
}

func (s *pullSource) Close() error { return s.resp.Body.Close() }

// sourceProblem answers a third-party copy that its source made fail.
func sourceProblem(w http.ResponseWriter, status int, code, title, detail string) {
	w.Header().Set(HeaderSourceStatus, strconv.Itoa(status))
	writeProblem(w, http.StatusBadGateway, code, title, detail)
}

// openPull starts the download of a third-party copy's source, asking for
// its checksum with algo; it answers the request itself when it cannot.
func (a *Agent) openPull(w http.ResponseWriter, r *http.Request, from, algo string) (*pullSource, bool) {
	u, err := url.Parse(from)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || !strings.HasPrefix(u.EscapedPath(), "/v1/files/") {
		writeProblem(w, http.StatusBadRequest, CodeInvalid, "Invalid source",
			fmt.Sprintf("%s %q: give the http(s) URL of another agent's file, as in http://node-2:7070/v1/files/data/f", HeaderSource, from))
		return nil, false
	}
	var want int64 = -1
	if v := r.Header.Get(HeaderExpectedSize); v != "" {
		if want, err = strconv.ParseInt(v, 10, 64); err != nil || want < 0 {
			writeProblem(w, http.StatusBadRequest, CodeInvalid, "Invalid expected size", fmt.Sprintf("%s %q is not a number of bytes", HeaderExpectedSize, v))
			return nil, false
		}
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, u.String(), nil)
	if err != nil {
		writeProblem(w, http.StatusBadRequest, CodeInvalid, "Invalid source", err.Error())
		return nil, false
	}
	if v := r.Header.Get(HeaderSourceAuthorization); v != "" {
		req.Header.Set("Authorization", v)
	}
	req.Header.Set(HeaderChecksumAlgorithm, algo)
	// Compression would hide the trailer behind Go's own decompression.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := a.cfg.Fetch.Do(req)
	if err != nil {
		sourceProblem(w, 0, CodeSourceUnreachable, "Source unreachable", fmt.Sprintf("fetching %s: %v", u.Redacted(), errors.Unwrap(err)))
		return nil, false
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var p Problem
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		detail := strings.TrimSpace(string(raw))
		if json.Unmarshal(raw, &p) == nil && p.Detail != "" {
			detail = p.Detail
		}
		code := p.Code
		if code == "" {
			code = CodeFailed
		}
		sourceProblem(w, resp.StatusCode, code, "Source refused", fmt.Sprintf("%s answered %s: %s", u.Redacted(), resp.Status, detail))
		return nil, false
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		resp.Body.Close()
		sourceProblem(w, http.StatusConflict, CodeConflict, "Source is a directory", fmt.Sprintf("%s is a directory, not a file", u.Redacted()))
		return nil, false
	}
	s := &pullSource{resp: resp, url: u.Redacted(), algo: algo, size: -1}
	if v, err := strconv.ParseInt(resp.Header.Get(HeaderSize), 10, 64); err == nil {
		s.size = v
	}
	if want >= 0 && s.size >= 0 && s.size != want {
		resp.Body.Close()
		sourceProblem(w, http.StatusOK, CodeSizeMismatch, "Size mismatch",
			fmt.Sprintf("the source has %d bytes, not the file's expected size of %d", s.size, want))
		return nil, false
	}
	return s, true
}

// interrupted answers a third-party copy whose source broke off.
func (s *pullSource) interrupted(w http.ResponseWriter, p string, err error) {
	sourceProblem(w, 0, CodeUnavailable, "Source interrupted",
		fmt.Sprintf("fetching %s for %q: interrupted after %d bytes: %v; nothing was stored", s.url, p, s.n, err))
}

// verify checks, once the body was read to its end, that every announced
// byte came and that they hash to the source's trailer; it answers the
// request itself when they do not.
func (s *pullSource) verify(w http.ResponseWriter, p string, h *checksum.Hasher) (checksum.Sum, bool) {
	if s.size >= 0 && s.n != s.size {
		sourceProblem(w, 0, CodeUnavailable, "Source cut short",
			fmt.Sprintf("%s sent %d bytes where it announced %d; nothing was stored", s.url, s.n, s.size))
		return checksum.Sum{}, false
	}
	want, err := checksum.Parse(s.resp.Trailer.Get(HeaderChecksum))
	if err != nil || want.Algorithm != s.algo {
		sourceProblem(w, 0, CodeUnavailable, "No source checksum",
			fmt.Sprintf("%s ended without its %s checksum; nothing was stored", s.url, s.algo))
		return checksum.Sum{}, false
	}
	if got := h.Sum(s.algo); !got.Equal(want) {
		sourceProblem(w, http.StatusOK, CodeChecksumMismatch, "Damaged in transit",
			fmt.Sprintf("the bytes of %s arrived with %s, but the source sent %s; nothing was stored", s.url, got, want))
		return checksum.Sum{}, false
	}
	return want, true
}

// progressWriter answers 102 Processing with the bytes written so far, at
// most once per progressInterval, as the bytes of a third-party copy pass.
type progressWriter struct {
	w    http.ResponseWriter
	n    int64
	last time.Time
}

func (pw *progressWriter) Write(p []byte) (int, error) {
	pw.n += int64(len(p))
	if now := time.Now(); now.Sub(pw.last) >= progressInterval {
		pw.last = now
		h := pw.w.Header()
		h.Set(HeaderBytes, strconv.FormatInt(pw.n, 10))
		pw.w.WriteHeader(http.StatusProcessing)
		h.Del(HeaderBytes)
	}
	return len(p), nil
}

// handlePullFile serves a third-party copy (see above).
func (a *Agent) handlePullFile(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get(HeaderSource) == "" {
		writeProblem(w, http.StatusBadRequest, CodeInvalid, "No source",
			fmt.Sprintf("a POST to a file fetches it from another agent: name the source's URL in %s (to send the bytes yourself, PUT them)", HeaderSource))
		return
	}
	a.handlePutFile(w, r)
}
