package agent

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

const testToken = "test-token-0123456789"

// tagent is an agent served by httptest with helpers to call it.
type tagent struct {
	t   *testing.T
	a   *Agent
	srv *httptest.Server
	dir string
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newTestAgent(t *testing.T, mod func(*Config)) *tagent {
	t.Helper()
	cfg := Config{DataDir: t.TempDir(), Token: testToken, Logger: quietLogger(), KillGrace: 2 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ta := &tagent{t: t, a: a, srv: httptest.NewServer(a), dir: cfg.DataDir}
	t.Cleanup(func() {
		ta.srv.Close()
		a.procs.killAll(func(*proc) bool { return true })
		a.Close()
	})
	return ta
}

// do sends a request with the token; hdr holds header name/value pairs.
func (ta *tagent) do(method, path string, body io.Reader, hdr ...string) *http.Response {
	ta.t.Helper()
	req, err := http.NewRequest(method, ta.srv.URL+path, body)
	if err != nil {
		ta.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := ta.srv.Client().Do(req)
	if err != nil {
		ta.t.Fatal(err)
	}
	return resp
}

// call sends in as JSON (when not nil), decodes the answer into out (when not
// nil and the status is 2xx) and returns the status. A problem answer is
// logged.
func (ta *tagent) call(method, path string, in, out any) int {
	ta.t.Helper()
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			ta.t.Fatal(err)
		}
		body = bytes.NewReader(raw)
	}
	resp := ta.do(method, path, body)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		ta.t.Logf("%s %s: %d %s", method, path, resp.StatusCode, strings.TrimSpace(string(raw)))
		return resp.StatusCode
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			ta.t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode
}

// problem decodes a problem answer and closes the body.
func problem(t *testing.T, resp *http.Response) Problem {
	t.Helper()
	defer resp.Body.Close()
	var p Problem
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q, want application/problem+json", ct)
	}
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	return p
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
