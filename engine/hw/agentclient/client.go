// Package agentclient drives the nodes of "agent" clusters: it speaks the API
// of package agent over HTTP(S) with the agents' bearer token.
//
// Short calls (info, process and container calls) are bounded by
// Options.Timeout; calls that move bytes or take the node's time (files,
// environment installs, reboots) by their context only, so that a large
// transfer is not cut short. Bodies stream both ways: a Put sends the reader
// as it reads it, a Get hands the response body over, checking its checksum
// against the agent's trailer as the bytes pass.
//
// Errors are hw.Errors: an agent that cannot be reached, times out, or
// answers 5xx, 408 or 429 is Unavailable or Internal, retryable; a refused
// request (4xx) keeps its meaning (Invalid, NotFound, Conflict,
// ChecksumMismatch, Unauthorized, …) and is not retryable.
//
// The client tracks the health of each node: Options.DownAfter consecutive
// calls without an answer mark it down, the first answer marks it up again.
// Health reports the state; Options.OnHealth hears the changes.
//
// Importing the package registers it for the driver kind "agent".
package agentclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gridflow/gridflow/agent"
	"github.com/gridflow/gridflow/dsl/testbed"
	"github.com/gridflow/gridflow/engine/hw"
)

func init() {
	hw.Register(testbed.DriverAgent, func(c *testbed.Cluster, o hw.Options) (hw.Driver, error) {
		return New(c.Driver.Agents, Options{Token: o.AgentToken, TLS: o.AgentTLS, Timeout: o.AgentTimeout,
			DownAfter: o.DownAfter, OnHealth: o.OnHealth})
	})
}

// Options configure a Client.
type Options struct {
	// Token is the agents' bearer token. Required.
	Token string
	// TLS, when set, makes the client speak HTTPS.
	TLS *tls.Config
	// Timeout bounds a short call (default 30s).
	Timeout time.Duration
	// DownAfter consecutive calls without answer mark a node down (default 3).
	DownAfter int
	// OnHealth is called, outside any lock, when a node goes down or up.
	OnHealth func(hw.Health)
	// Transport overrides the HTTP transport (tests).
	Transport http.RoundTripper
	// StartWait is how long a Start waits for the process to end before
	// the agent answers (default DefaultStartWait; negative: not at all).
	StartWait time.Duration
}

// DefaultStartWait is the default Options.StartWait: most commands of a
// campaign step that end at once end within it.
const DefaultStartWait = 200 * time.Millisecond

// Client drives a set of agents. It is safe for concurrent use.
type Client struct {
	addrs  map[string]string // node uid → host:port
	opts   Options
	http   *http.Client
	scheme string

	mu     sync.Mutex
	health map[string]*hw.Health
}

var (
	_ hw.Driver         = (*Client)(nil)
	_ hw.HealthReporter = (*Client)(nil)
)

// New returns a client for the agents at addrs (node uid → "host:port").
func New(addrs map[string]string, opts Options) (*Client, error) {
	if opts.Token == "" {
		return nil, errors.New("agentclient: no agent token: configure the token the agents were started with")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.DownAfter <= 0 {
		opts.DownAfter = 3
	}
	if opts.StartWait == 0 {
		opts.StartWait = DefaultStartWait
	}
	tr := opts.Transport
	if tr == nil {
		tr = &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSClientConfig:     opts.TLS,
			TLSHandshakeTimeout: 10 * time.Second,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     90 * time.Second,
			// The agent's answers stream; Go must not ask for gzip and
			// then hide the trailer behind its own decompression.
			DisableCompression: true,
		}
	}
	c := &Client{addrs: map[string]string{}, opts: opts, http: &http.Client{Transport: tr}, scheme: "http", health: map[string]*hw.Health{}}
	if opts.TLS != nil {
		c.scheme = "https"
	}
	now := time.Now()
	for n, a := range addrs {
		c.addrs[n] = a
		c.health[n] = &hw.Health{Node: n, Up: true, Since: now}
	}
	return c, nil
}

// Close drops idle connections.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// Health returns what the client knows of a node's reachability.
func (c *Client) Health(node string) (hw.Health, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.health[node]
	if !ok {
		return hw.Health{}, false
	}
	return *h, true
}

// record updates the health of node after a call; answered is false when
// the agent could not be reached.
func (c *Client) record(node string, answered bool, cause error) {
	c.mu.Lock()
	h := c.health[node]
	if h == nil {
		c.mu.Unlock()
		return
	}
	now := time.Now()
	changed := false
	if answered {
		h.ConsecutiveFailures, h.LastSeen = 0, now
		if !h.Up {
			h.Up, h.Since, changed = true, now, true
		}
	} else {
		h.ConsecutiveFailures++
		h.LastError = cause.Error()
		if h.Up && h.ConsecutiveFailures >= c.opts.DownAfter {
			h.Up, h.Since, changed = false, now, true
		}
	}
	snap := *h
	c.mu.Unlock()
	if changed && c.opts.OnHealth != nil {
		c.opts.OnHealth(snap)
	}
}

// request is one call to an agent.
type request struct {
	op, node string
	method   string
	path     string // escaped
	query    url.Values
	header   http.Header
	body     io.Reader
	// long calls are bounded by the caller's context only.
	long bool
}

// send performs r and returns the response of a 2xx answer (the caller
// closes its body and calls the returned cancel when done) or a classed error.
func (c *Client) send(ctx context.Context, r request) (*http.Response, context.CancelFunc, error) {
	addr, ok := c.addrs[r.node]
	if !ok {
		return nil, nil, hw.Errorf(r.op, r.node, hw.NotFound, "no agent is configured for node %q", r.node)
	}
	cctx, cancel := ctx, context.CancelFunc(func() {})
	if !r.long {
		cctx, cancel = context.WithTimeout(ctx, c.opts.Timeout)
	}
	u := c.scheme + "://" + addr + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	req, err := http.NewRequestWithContext(cctx, r.method, u, r.body)
	if err != nil {
		cancel()
		return nil, nil, hw.Errorf(r.op, r.node, hw.Invalid, "%v", err)
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	req.Header.Set("Authorization", "Bearer "+c.opts.Token)
	resp, err := c.http.Do(req)
	if err != nil {
		cancel()
		if ctx.Err() != nil { // the caller gave up: not the node's fault
			return nil, nil, fmt.Errorf("%s on %s: %w", r.op, r.node, ctx.Err())
		}
		herr := hw.Errorf(r.op, r.node, hw.Unavailable, "agent at %s unreachable: %v", addr, unwrapURLError(err))
		c.record(r.node, false, herr)
		return nil, nil, herr
	}
	c.record(r.node, true, nil)
	if resp.StatusCode >= 300 {
		defer cancel()
		defer resp.Body.Close()
		return nil, nil, classify(r.op, r.node, resp)
	}
	return resp, cancel, nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// classify turns an error answer into an hw.Error.
func classify(op, node string, resp *http.Response) error {
	var p agent.Problem
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(raw, &p) != nil || p.Title == "" {
		p.Detail = strings.TrimSpace(string(raw))
	}
	msg := p.Detail
	if msg == "" {
		msg = p.Title
	}
	if msg == "" {
		msg = resp.Status
	}
	kind, retry := hw.Internal, false
	switch st := resp.StatusCode; {
	case st == http.StatusBadRequest, st == http.StatusRequestEntityTooLarge:
		kind = hw.Invalid
	case st == http.StatusUnauthorized:
		kind, msg = hw.Unauthorized, "the agent refused the token: "+msg+"; give the engine the token the agent was started with"
	case st == http.StatusForbidden:
		kind = hw.Forbidden
	case st == http.StatusNotFound:
		kind = hw.NotFound
	case st == http.StatusMethodNotAllowed, st == http.StatusNotImplemented:
		kind = hw.Unsupported
	case st == http.StatusConflict:
		kind = hw.Conflict
	case st == http.StatusPreconditionFailed:
		kind = hw.Exists
	case st == http.StatusRequestTimeout, st == http.StatusTooManyRequests:
		kind, retry = hw.Unavailable, true
	case st == http.StatusUnprocessableEntity:
		switch p.Code {
		case agent.CodeChecksumMismatch:
			kind = hw.ChecksumMismatch
		case agent.CodeNotFound:
			kind = hw.NotFound
		case agent.CodeInvalid:
			kind = hw.Invalid
		default:
			kind = hw.Failed
		}
	case st == http.StatusBadGateway, st == http.StatusServiceUnavailable, st == http.StatusGatewayTimeout:
		kind, retry = hw.Unavailable, true
	case st >= 500:
		kind, retry = hw.Internal, true
	default:
		kind = hw.Failed
	}
	he := &hw.Error{Op: op, Node: node, Kind: kind, Retryable: retry, Err: fmt.Errorf("agent answered %d: %s", resp.StatusCode, msg)}
	if v := resp.Header.Get(agent.HeaderSourceStatus); v != "" {
		return sourceError(v, p.Code, he)
	}
	return he
}

// sourceError classes the failure of a third-party copy that its source
// caused (the agent answered 502 with the source's status).
func sourceError(status, code string, he *hw.Error) *SourceError {
	st, _ := strconv.Atoi(status)
	he.Err = fmt.Errorf("the source failed: %s", strings.TrimPrefix(he.Err.Error(), "agent answered 502: "))
	kind, retry := hw.Failed, false
	switch {
	case st == 0, st == http.StatusRequestTimeout, st == http.StatusTooManyRequests, st >= 500:
		kind, retry = hw.Unavailable, true
	case st == http.StatusOK && code == agent.CodeChecksumMismatch:
		kind, retry = hw.ChecksumMismatch, true
	case st == http.StatusBadRequest:
		kind = hw.Invalid
	case st == http.StatusUnauthorized:
		kind = hw.Unauthorized
	case st == http.StatusForbidden:
		kind = hw.Forbidden
	case st == http.StatusNotFound:
		kind = hw.NotFound
	case st == http.StatusConflict:
		kind = hw.Conflict
	}
	he.Kind, he.Retryable = kind, retry
	return &SourceError{Status: st, Code: code, Err: he}
}

// call sends a JSON request and decodes a JSON answer into out.
func (c *Client) call(ctx context.Context, r request, in, out any) error {
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return hw.Errorf(r.op, r.node, hw.Invalid, "%v", err)
		}
		r.body = bytes.NewReader(raw)
		if r.header == nil {
			r.header = http.Header{}
		}
		r.header.Set("Content-Type", "application/json")
	}
	resp, cancel, err := c.send(ctx, r)
	if err != nil {
		return err
	}
	defer cancel()
	defer resp.Body.Close()
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s on %s: %w", r.op, r.node, ctx.Err())
		}
		return &hw.Error{Op: r.op, Node: r.node, Kind: hw.Internal, Retryable: true, Err: fmt.Errorf("reading the agent's answer: %w", err)}
	}
	return nil
}

func seg(s string) string { return url.PathEscape(s) }

// Info reads the node's facts.
func (c *Client) Info(ctx context.Context, node string) (hw.NodeInfo, error) {
	var in agent.Info
	if err := c.call(ctx, request{op: "info", node: node, method: http.MethodGet, path: "/v1/info"}, nil, &in); err != nil {
		return hw.NodeInfo{}, err
	}
	return nodeInfo(node, in), nil
}

// Reboot reboots the node's agent: it stops what runs and bumps the generation.
func (c *Client) Reboot(ctx context.Context, node string, opts hw.RebootOptions) (hw.NodeInfo, error) {
	var in agent.Info
	r := request{op: "reboot", node: node, method: http.MethodPost, path: "/v1/reboot", long: true}
	if err := c.call(ctx, r, agent.RebootRequest{IfGeneration: opts.IfGeneration}, &in); err != nil {
		return hw.NodeInfo{}, err
	}
	return nodeInfo(node, in), nil
}

// Install has the agent download, verify and unpack an environment, then reboot.
func (c *Client) Install(ctx context.Context, node string, env hw.EnvSpec) (hw.NodeInfo, error) {
	const op = "install environment"
	if env.Checksum == "" {
		return hw.NodeInfo{}, hw.Errorf(op, node, hw.Invalid, "environment %s has no checksum", env.Name)
	}
	var in agent.Info
	r := request{op: op, node: node, method: http.MethodPost, path: "/v1/environment", long: true}
	if err := c.call(ctx, r, agent.EnvironmentRequest{Name: env.Name, URL: env.URL, Checksum: env.Checksum}, &in); err != nil {
		return hw.NodeInfo{}, err
	}
	return nodeInfo(node, in), nil
}

func nodeInfo(node string, in agent.Info) hw.NodeInfo {
	out := hw.NodeInfo{
		Node: node, Hostname: in.Hostname, CPUs: in.CPUs,
		Load:   hw.Load{One: in.Load.One, Five: in.Load.Five, Fifteen: in.Load.Fifteen},
		BootID: in.BootID, Generation: in.Generation, BootTime: in.BootTime,
		Uptime: time.Duration(in.UptimeSeconds * float64(time.Second)),
		Memory: hw.Memory{Total: in.Memory.Total, Available: in.Memory.Available, Used: in.Memory.Used,
			UsedPercent: in.Memory.UsedPercent, Free: in.Memory.Free, Cached: in.Memory.Cached,
			Buffers: in.Memory.Buffers, Active: in.Memory.Active, Inactive: in.Memory.Inactive},
		Disk:       hw.Disk{Total: in.Disk.Total, Free: in.Disk.Free, Used: in.Disk.Used, UsedPercent: in.Disk.UsedPercent},
		Containers: in.Containers,
	}
	if e := in.Environment; e != nil {
		out.Environment = &hw.Environment{Name: e.Name, Checksum: e.Checksum, InstalledAt: e.InstalledAt}
	}
	return out
}
