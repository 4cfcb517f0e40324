package storage

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// userAgent names Gridflow to the servers it fetches from.
const userAgent = "gridflow-transfer/1"

// maxRedirects bounds the redirects of one request.
const maxRedirects = 10

// defaultTransport serves Endpoints without an HTTPClient. Bytes are taken
// as the server sends them: no transparent decompression, which would
// change them and hide their length.
var defaultTransport = &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	TLSHandshakeTimeout:   15 * time.Second,
	ResponseHeaderTimeout: time.Minute,
	ExpectContinueTimeout: time.Second,
	IdleConnTimeout:       90 * time.Second,
	MaxIdleConnsPerHost:   8,
	ForceAttemptHTTP2:     true,
	DisableCompression:    true,
}

// client returns the HTTP client, its redirects held to the policy. There
// is no overall timeout: a large file takes long; a stalled one is caught
// by the stall timer of the copy.
func (e *Endpoints) client() *http.Client {
	c := http.Client{Transport: defaultTransport}
	if e.HTTPClient != nil {
		c = *e.HTTPClient
	}
	next := c.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return fmt.Errorf("stopped after %d redirects", maxRedirects)
		}
		u, err := Parse(req.URL.String())
		if err == nil && u.Scheme != SchemeHTTP && u.Scheme != SchemeHTTPS {
			err = forbiddenf(u.String(), "a redirect may lead only to another http(s) URL")
		}
		if err == nil {
			err = e.Check(u, false)
		}
		if err != nil {
			return redirectError{err}
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
	return &c
}

// redirectError is a redirect the policy refuses.
type redirectError struct{ err error }

func (r redirectError) Error() string { return "redirected to a refused URL: " + r.err.Error() }
func (r redirectError) Unwrap() error { return r.err }

// request sends method for u and returns a 2xx response.
func (e *Endpoints) request(ctx context.Context, method string, u URL, phase string) (*http.Response, *failure) {
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return nil, &failure{phase: phase, url: u.String(), reason: err.Error(), err: errors.Join(ErrInvalid, err)}
	}
	req.Header.Set("Accept-Encoding", "identity")
	req.Header.Set("User-Agent", userAgent)
	resp, err := e.client().Do(req)
	if err != nil {
		return nil, httpFailure(phase, u, err)
	}
	if f := statusFailure(phase, u, resp); f != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		return nil, f
	}
	if ce := resp.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		resp.Body.Close()
		return nil, &failure{phase: phase, url: u.String(),
			reason: fmt.Sprintf("the server sent the file encoded (Content-Encoding: %s) though asked for its bytes as they are", ce)}
	}
	return resp, nil
}

// openHTTP starts fetching an http(s) source.
func (e *Endpoints) openHTTP(ctx context.Context, u URL) (*source, *failure) {
	resp, f := e.request(ctx, http.MethodGet, u, PhaseSource)
	if f != nil {
		return nil, f
	}
	size := resp.ContentLength
	return &source{r: resp.Body, size: size, close: resp.Body.Close, fail: func(err error, n int64) *failure {
		reason := fmt.Sprintf("the connection broke after %d bytes: %v", n, err)
		if errors.Is(err, io.ErrUnexpectedEOF) && size >= 0 {
			reason = fmt.Sprintf("the server closed the connection after %d of %d bytes", n, size)
		}
		return &failure{phase: PhaseTransfer, url: u.String(), reason: reason, retryable: true, err: err}
	}}, nil
}

// httpFailure classes an error of an HTTP client.
func httpFailure(phase string, u URL, err error) *failure {
	f := &failure{phase: phase, url: u.String(), err: err, retryable: true}
	var ue *url.Error
	inner := err
	if errors.As(err, &ue) {
		inner = ue.Err
	}
	var rd redirectError
	var dnsErr *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	var verifyErr *tls.CertificateVerificationError
	switch {
	case errors.As(err, &rd):
		f.reason, f.retryable = rd.Error(), false
		var e *Error
		if errors.As(rd.err, &e) {
			f.reason = fmt.Sprintf("redirected to %s, which is refused: %s", e.Subject, e.Reason)
		}
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		f.reason, f.retryable = fmt.Sprintf("no such host %q", dnsErr.Name), false
	case errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalidCert), errors.As(err, &verifyErr):
		f.reason, f.retryable = fmt.Sprintf("the server's TLS certificate is not trusted: %v", inner), false
	case strings.Contains(inner.Error(), "stopped after"):
		f.reason, f.retryable = inner.Error(), false
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			f.reason = fmt.Sprintf("timed out: %v", inner)
		} else {
			f.reason = fmt.Sprintf("cannot fetch: %v", inner)
		}
	}
	return f
}

// statusFailure classes a status other than 200 OK.
func statusFailure(phase string, u URL, resp *http.Response) *failure {
	st := resp.StatusCode
	if st == http.StatusOK || st == http.StatusNonAuthoritativeInfo {
		return nil
	}
	f := &failure{phase: phase, url: u.String(), reason: "the server answered " + resp.Status, status: st}
	switch {
	case st == http.StatusNotFound || st == http.StatusGone:
		f.err = ErrNotFound
		f.reason += ": no such file"
	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		f.reason += ": it refuses to serve the file to this server"
	case st == http.StatusRequestTimeout || st == http.StatusTooEarly || st == http.StatusTooManyRequests || st >= 500:
		f.retryable = true
	case st >= 200 && st < 300:
		f.reason += ", not 200 OK with the file"
	}
	return f
}

// statHTTP asks an http(s) source for its size with HEAD (a GET whose body
// is not read when the server refuses HEAD); -1 when it does not say.
func (e *Endpoints) statHTTP(ctx context.Context, u URL) (int64, *failure) {
	resp, f := e.request(ctx, http.MethodHead, u, PhaseSource)
	if f != nil && (f.status == http.StatusMethodNotAllowed || f.status == http.StatusNotImplemented) {
		resp, f = e.request(ctx, http.MethodGet, u, PhaseSource)
	}
	if f != nil {
		return 0, f
	}
	resp.Body.Close()
	return resp.ContentLength, nil
}
