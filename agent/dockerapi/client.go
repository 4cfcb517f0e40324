// Package dockerapi is the small client of the Docker Engine API that Gridflow
// needs to run containers on a node: create, start, stop, remove, inspect and
// list containers, run jobs (commands) inside them, list their processes, read
// the engine's facts and build images. It speaks HTTP over the engine's unix
// socket or a tcp address with net/http only.
//
// Both the node agent (package agent) and the engine's "docker" driver
// (engine/hw/docker) use it. It lives under agent/ because the agent sits at
// the bottom of the layering: it must not import the engine's packages, while
// the engine's drivers already import the agent's.
//
// Every container a Client creates is named gridflow-<scope>-<id> and labelled
// with its scope, its id and its reservation, so that several agents or nodes
// can share one Docker Engine without seeing each other's containers.
//
// # Jobs
//
// A job is a command run inside a container through the exec API. Its state
// lives in the container itself, so it survives a restart of whoever started
// it and can be read without a shell, through the archive API, even once the
// container stopped:
//
//	/.gridflow/jobs/<id>/meta.json   the command, its environment, its start
//	/.gridflow/jobs/<id>/run/        made by the job's wrapper: started once
//	/.gridflow/jobs/<id>/pid         pid (in the container) of the command
//	/.gridflow/jobs/<id>/exit        its exit status, once it ended
//	/.gridflow/jobs/<id>/killed      the signal a kill sent
//	/.gridflow/out/<id>.stdout       what it wrote
//	/.gridflow/out/<id>.stderr
//
// The command runs under a small /bin/sh wrapper (in a session of its own when
// the image has setsid, so that a kill reaches its children too): jobs need a
// POSIX shell in the image (busybox, Debian, Alpine… have one). An image
// without /bin/sh cannot run jobs, and says so.
package dockerapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// DefaultHost is the Docker Engine of the local machine.
const DefaultHost = "unix:///var/run/docker.sock"

// Client talks to one Docker Engine on behalf of one scope. It is safe for
// concurrent use.
type Client struct {
	http  *http.Client
	base  string // "http://docker" for a unix socket
	host  string
	scope string
}

// New returns a client of the engine at host ("unix:///var/run/docker.sock",
// "tcp://127.0.0.1:2375", "127.0.0.1:2375"; empty: $DOCKER_HOST, else
// DefaultHost) for the containers of scope (letters, digits, '.', '_', '-').
func New(host, scope string) (*Client, error) {
	if host == "" {
		host = os.Getenv("DOCKER_HOST")
	}
	if host == "" {
		host = DefaultHost
	}
	if !validID(scope) {
		return nil, fmt.Errorf("dockerapi: scope %q: use letters, digits, '.', '_' or '-'", scope)
	}
	if !strings.Contains(host, "://") {
		host = "tcp://" + host
	}
	u, err := url.Parse(host)
	if err != nil {
		return nil, fmt.Errorf("dockerapi: docker host %q: %w", host, err)
	}
	tr := &http.Transport{MaxIdleConns: 8, MaxIdleConnsPerHost: 8, IdleConnTimeout: 30 * time.Second}
	c := &Client{http: &http.Client{Transport: tr}, scope: scope, host: host}
	switch u.Scheme {
	case "unix":
		sock := u.Path
		if sock == "" {
			return nil, fmt.Errorf("dockerapi: docker host %q names no socket: write unix:///var/run/docker.sock", host)
		}
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "unix", sock)
		}
		c.base = "http://docker"
	case "tcp", "http":
		if u.Host == "" {
			return nil, fmt.Errorf("dockerapi: docker host %q names no address: write tcp://host:port", host)
		}
		tr.DialContext = (&net.Dialer{Timeout: 5 * time.Second}).DialContext
		c.base = "http://" + u.Host
	default:
		return nil, fmt.Errorf("dockerapi: docker host %q: use unix:///path/to/docker.sock or tcp://host:port", host)
	}
	return c, nil
}

// Host is the engine's address as given to New (normalised).
func (c *Client) Host() string { return c.host }

// Scope is the scope of the client's containers.
func (c *Client) Scope() string { return c.scope }

// Close drops idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Error is an answer of the Docker Engine other than success.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("docker engine: %s (HTTP %d)", e.Message, e.Status)
}

// StatusOf returns the HTTP status of an *Error in err, or 0.
func StatusOf(err error) int {
	var de *Error
	if errors.As(err, &de) {
		return de.Status
	}
	return 0
}

// IsNotFound says whether the engine answered 404.
func IsNotFound(err error) bool { return StatusOf(err) == http.StatusNotFound }

// ErrConflict: the id is in use by another container or job.
var ErrConflict = errors.New("id in use")

// ErrNotRunning: the container is not running (jobs need it running).
var ErrNotRunning = errors.New("container not running")

// ErrUnreachable wraps the errors of a request that got no answer.
var ErrUnreachable = errors.New("docker engine unreachable")

func (c *Client) request(ctx context.Context, method, path string, query url.Values, body io.Reader, ctype string) (*http.Response, error) {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w at %s: %v", ErrUnreachable, c.host, err)
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		var m struct {
			Message string `json:"message"`
		}
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(raw, &m) != nil || m.Message == "" {
			m.Message = strings.TrimSpace(string(raw))
		}
		return nil, &Error{Status: resp.StatusCode, Message: m.Message}
	}
	return resp, nil
}

// Do sends a JSON request (body may be nil) and decodes a JSON answer into
// out (may be nil). An answer of 400 or more is an *Error.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body, out any) (int, error) {
	var rd io.Reader
	ctype := ""
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd, ctype = bytes.NewReader(raw), "application/json"
	}
	resp, err := c.request(ctx, method, path, query, rd, ctype)
	if err != nil {
		return StatusOf(err), err
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusNotModified {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, fmt.Errorf("docker engine: decode answer of %s %s: %w", method, path, err)
		}
	} else {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	}
	return resp.StatusCode, nil
}

// Ping checks that the engine answers.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.Do(ctx, http.MethodGet, "/_ping", nil, nil, nil)
	return err
}

// EngineInfo is the part of GET /info Gridflow reads.
type EngineInfo struct {
	ID              string `json:"ID"`
	Name            string `json:"Name"` // the host name of the engine's machine
	NCPU            int    `json:"NCPU"`
	MemTotal        int64  `json:"MemTotal"`
	ServerVersion   string `json:"ServerVersion"`
	OperatingSystem string `json:"OperatingSystem"`
	KernelVersion   string `json:"KernelVersion"`
}

// Info reads the engine's facts.
func (c *Client) Info(ctx context.Context) (EngineInfo, error) {
	var in EngineInfo
	_, err := c.Do(ctx, http.MethodGet, "/info", nil, nil, &in)
	return in, err
}

// BuildImage builds an image tagged tag from a build context (a tar stream
// holding a Dockerfile) and returns the error the build reported, if any.
func (c *Client) BuildImage(ctx context.Context, tag string, buildContext io.Reader) error {
	resp, err := c.request(ctx, http.MethodPost, "/build", url.Values{"t": {tag}, "rm": {"1"}}, buildContext, "application/x-tar")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var msg struct {
			Error string `json:"error"`
		}
		if err := dec.Decode(&msg); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("docker build %s: reading progress: %w", tag, err)
		}
		if msg.Error != "" {
			return fmt.Errorf("docker build %s: %s", tag, msg.Error)
		}
	}
}

func validID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case i > 0 && (r == '.' || r == '_' || r == '-'):
		default:
			return false
		}
	}
	return true
}

func checkID(what, id string) error {
	if !validID(id) {
		return fmt.Errorf("invalid %s id %q: use 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit", what, id)
	}
	return nil
}
