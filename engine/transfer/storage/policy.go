package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gridflow/gridflow/engine/hw"
)

// Policy decides which URLs a server accepts.
type Policy struct {
	// FileRoots are absolute directories: a file URL must lead under one
	// of them, symbolic links followed (a link cannot lead out). Empty: no
	// file URL is allowed.
	FileRoots []string
	// HTTPHosts may serve http(s) sources: "host" (any port), "host:port",
	// "*.example.org" (any subdomain of example.org, not example.org
	// itself), "*" (every host). Empty: no http(s) URL is allowed.
	// Redirects are followed only to allowed hosts.
	HTTPHosts []string
}

// Validate checks the policy's own configuration, for a server to refuse a
// bad one at start: roots must be absolute, existing directories, and host
// patterns hosts (not URLs).
func (p Policy) Validate() error {
	var errs []error
	for _, r := range p.FileRoots {
		if !filepath.IsAbs(r) {
			errs = append(errs, fmt.Errorf("file root %q is not an absolute path", r))
			continue
		}
		fi, err := os.Stat(r)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("file root %q: %w", r, err))
		case !fi.IsDir():
			errs = append(errs, fmt.Errorf("file root %q is not a directory", r))
		}
	}
	for _, h := range p.HTTPHosts {
		switch {
		case strings.TrimSpace(h) == "":
			errs = append(errs, errors.New("empty HTTP host pattern: write host, host:port, *.domain or *"))
		case strings.Contains(h, "/"):
			errs = append(errs, fmt.Errorf("HTTP host pattern %q is a URL: write only host, host:port, *.domain or *", h))
		}
	}
	return errors.Join(errs...)
}

// NodeFiles gives the hw.Files of a node, typically over the engine's map
// of drivers. Its errors are hw errors (hw.NotFound for an unknown node).
type NodeFiles func(ctx context.Context, node string) (hw.Files, error)

// DefaultStallTimeout is how long a copy may go without moving a byte
// before it fails (retryably) when Endpoints.StallTimeout is zero.
const DefaultStallTimeout = 2 * time.Minute

// Endpoints reads and writes the storage a transfer names. Its zero value
// refuses every URL; it is safe for concurrent use once set up.
type Endpoints struct {
	Policy Policy
	// Nodes gives the files of nodes; nil: node URLs are refused.
	Nodes NodeFiles
	// HTTPClient fetches http(s) sources; nil: a client with connect,
	// TLS and response-header timeouts and no transparent decompression.
	// Its redirects are checked against the policy in any case.
	HTTPClient *http.Client
	// StallTimeout fails a copy that moves no byte for that long
	// (retryable); zero: DefaultStallTimeout.
	StallTimeout time.Duration
	// ProxyNodeCopies makes copies between nodes pass through the engine
	// even where the destination node could fetch the file from the
	// source node itself (a third-party copy, the default).
	ProxyNodeCopies bool
}

// Check validates u against the policy, as a source (dest false) or a
// destination. Errors satisfy IsInvalid (a malformed URL, such as one built
// by hand) or IsForbidden (a refusal of the policy).
func (e *Endpoints) Check(u URL, dest bool) error {
	if err := u.validate(); err != nil {
		return err
	}
	switch u.Scheme {
	case SchemeFile:
		if isTempName(filepath.Base(u.Path)) {
			return forbiddenf(u.String(), "the name is that of a copy's temporary file (.NAME.gridflow-ID.part); choose another name")
		}
		_, err := e.Policy.locate(u)
		return err
	case SchemeHTTP, SchemeHTTPS:
		if dest {
			return forbiddenf(u.String(), "%s URLs can only be sources: write the file to file:// or node:// storage", u.Scheme)
		}
		return e.Policy.allowHost(u)
	case SchemeNode:
		if e.Nodes == nil {
			return forbiddenf(u.String(), "node storage is not available on this server")
		}
		return nil
	}
	return invalidf(u.String(), "unsupported scheme %q", u.Scheme)
}

// place is a file URL resolved beneath a root: every access goes through
// os.Root(root) with rel, so that a symbolic link created after the check
// still cannot lead out.
type place struct {
	root string // a root of the policy, symbolic links resolved
	rel  string // relative to root, OS separators, never "."
}

// locate finds the root u lies under once symbolic links of its existing
// part are resolved.
func (p Policy) locate(u URL) (place, error) {
	subject := u.String()
	if len(p.FileRoots) == 0 {
		return place{}, forbiddenf(subject, "file URLs are not allowed: this server has no file roots")
	}
	target := filepath.FromSlash(u.Path)
	resolved, err := resolve(target)
	if err != nil {
		return place{}, forbiddenf(subject, "cannot be checked against the file roots: %v", err)
	}
	for _, r := range p.FileRoots {
		if !filepath.IsAbs(r) {
			continue
		}
		rr, err := filepath.EvalSymlinks(filepath.Clean(r))
		if err != nil {
			continue
		}
		rel, err := filepath.Rel(rr, resolved)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			continue
		}
		if rel == "." {
			return place{}, forbiddenf(subject, "names the file root itself, a directory: name a file under it")
		}
		return place{root: rr, rel: rel}, nil
	}
	how := ""
	if resolved != target {
		how = fmt.Sprintf(" (it leads to %s through a symbolic link)", resolved)
	}
	return place{}, forbiddenf(subject, "not under an allowed file root%s: allowed are %s", how, list(p.FileRoots))
}

// resolve resolves the symbolic links of the longest existing prefix of p
// and appends the rest.
func resolve(p string) (string, error) {
	var rest []string
	cur := p
	for {
		r, err := filepath.EvalSymlinks(cur)
		if err == nil {
			for i := len(rest) - 1; i >= 0; i-- {
				r = filepath.Join(r, rest[i])
			}
			return r, nil
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return "", err
		}
		if fi, lerr := os.Lstat(cur); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return "", fmt.Errorf("%s is a symbolic link to a missing target", cur)
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return "", err
		}
		rest = append(rest, filepath.Base(cur))
		cur = parent
	}
}

// allowHost checks the host of an http(s) URL against HTTPHosts.
func (p Policy) allowHost(u URL) error {
	if len(p.HTTPHosts) == 0 {
		return forbiddenf(u.String(), "http(s) sources are not allowed: this server allows no HTTP hosts")
	}
	host, port := hostPort(u)
	for _, pat := range p.HTTPHosts {
		if matchHost(pat, host, port) {
			return nil
		}
	}
	return forbiddenf(u.String(), "host %s is not allowed as an HTTP source: allowed are %s", u.Host, list(p.HTTPHosts))
}

// hostPort returns the lowercase host name (no brackets, no final dot) and
// the port of an http(s) URL, the scheme's default when none is written.
func hostPort(u URL) (string, string) {
	h, port := u.Host, defaultPort(u.Scheme)
	if sh, sp, err := net.SplitHostPort(h); err == nil {
		h, port = sh, sp
	}
	return normHost(h), port
}

func normHost(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return strings.TrimSuffix(h, ".")
}

// matchHost matches host and port against one pattern of HTTPHosts.
func matchHost(pat, host, port string) bool {
	pat = strings.ToLower(strings.TrimSpace(pat))
	if pat == "*" {
		return true
	}
	ph, pp := pat, ""
	if sh, sp, err := net.SplitHostPort(pat); err == nil {
		ph, pp = sh, sp
	}
	ph = normHost(ph)
	if pp != "" && pp != "*" && pp != port {
		return false
	}
	switch {
	case ph == "*":
		return true
	case strings.HasPrefix(ph, "*."):
		return len(host) > len(ph)-1 && strings.HasSuffix(host, ph[1:])
	}
	return ph != "" && host == ph
}

// list renders a few items of a configuration list for a message.
func list(items []string) string {
	const max = 5
	if len(items) > max {
		return strings.Join(items[:max], ", ") + fmt.Sprintf(" and %d more", len(items)-max)
	}
	return strings.Join(items, ", ")
}
