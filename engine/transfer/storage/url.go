package storage

import (
	"errors"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/gridflow/gridflow/dsl/testbed"
	"github.com/gridflow/gridflow/engine/hw"
)

// Schemes of storage URLs.
const (
	SchemeFile  = "file"
	SchemeHTTP  = "http"
	SchemeHTTPS = "https"
	SchemeNode  = "node"
)

// MaxURLLength bounds the length of a storage URL, in bytes.
const MaxURLLength = 8192

const howToWrite = "write file:///absolute/path, http(s)://host[:port]/path or node://NODE/relative/path"

// URL is a parsed storage URL:
//
//	file:///abs/path            a file of the engine's host, under a root of the Policy
//	http(s)://host[:port]/path  a file served over HTTP (sources only), query kept
//	node://NODE/rel/path        a file in the file area of node NODE (sim or agent)
//
// Path is the decoded path and always starts with "/"; for node URLs the
// file's path in the node's file area is Path without that slash. Compare
// URLs with == after Parse: Parse canonicalizes (lowercase scheme and http
// host, no default port, file URLs without host).
type URL struct {
	Scheme string
	Host   string // "" for file; host[:port] for http(s); the node uid for node
	Path   string
	// RawQuery is the query of an http(s) URL, kept as written (a signed
	// URL depends on it).
	RawQuery string

	// rawPath is the escaped path of an http(s) URL when it is not the
	// default escaping of Path (a server may tell %2F from /).
	rawPath string
}

// Parse reads a storage URL and canonicalizes it. It checks syntax only;
// Endpoints.Check applies the policy. Errors satisfy IsInvalid and say what
// is wrong and how to write the URL. Parse never panics.
func Parse(raw string) (URL, error) {
	raw = strings.TrimSpace(raw)
	subject := redact(raw)
	switch {
	case raw == "":
		return URL{}, invalidf("storage URL", "empty: %s", howToWrite)
	case len(raw) > MaxURLLength:
		return URL{}, invalidf(subject, "longer than %d bytes", MaxURLLength)
	}
	if i := strings.IndexFunc(raw, isControl); i >= 0 {
		return URL{}, invalidf(subject, "holds the control character %U at byte %d: percent-encode it if it is part of a name", raw[i], i)
	}
	pu, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return URL{}, invalidf(subject, "not a URL (%v): %s", err, howToWrite)
	}
	switch {
	case pu.Scheme == "":
		return URL{}, invalidf(subject, "no scheme: %s", howToWrite)
	case pu.Opaque != "":
		return URL{}, invalidf(subject, "no \"//\" after %q: %s", pu.Scheme+":", howToWrite)
	case pu.User != nil:
		return URL{}, invalidf(subject, "holds credentials (user@ or user:password@): they would be stored in clear; give the storage's credentials to the server instead")
	case pu.Fragment != "" || strings.Contains(raw, "#"):
		return URL{}, invalidf(subject, "has a fragment (#…): remove it, or percent-encode '#' as %%23 if it is part of a name")
	}
	u := URL{Scheme: pu.Scheme, Host: pu.Host, Path: pu.Path}
	switch u.Scheme {
	case SchemeFile:
		if h := strings.ToLower(u.Host); h != "" && h != "localhost" {
			return URL{}, invalidf(subject, "names host %q: file URLs name files of the engine's own host; write file:///absolute/path (or file://localhost/absolute/path)", u.Host)
		}
		u.Host = ""
		if pu.RawQuery != "" || pu.ForceQuery {
			return URL{}, invalidf(subject, "has a query (?…): file URLs take none; percent-encode '?' as %%3F if it is part of a name")
		}
	case SchemeNode:
		if pu.RawQuery != "" || pu.ForceQuery {
			return URL{}, invalidf(subject, "has a query (?…): node URLs take none; percent-encode '?' as %%3F if it is part of a name")
		}
	case SchemeHTTP, SchemeHTTPS:
		if !pu.ForceQuery || pu.RawQuery != "" {
			u.RawQuery = pu.RawQuery
		}
		u.rawPath = normEscaped(pu.EscapedPath())
	default:
		return URL{}, invalidf(subject, "unsupported scheme %q: %s", u.Scheme, howToWrite)
	}
	u = u.canonical()
	if err := u.validate(); err != nil {
		return URL{}, err
	}
	return u, nil
}

// canonical lowercases and trims what does not change the target.
func (u URL) canonical() URL {
	switch u.Scheme {
	case SchemeHTTP, SchemeHTTPS:
		u.Host = strings.ToLower(u.Host)
		if h, p, err := net.SplitHostPort(u.Host); err == nil && p == defaultPort(u.Scheme) {
			if strings.Contains(h, ":") {
				h = "[" + h + "]"
			}
			u.Host = h
		}
		if u.Path == "" {
			u.Path, u.rawPath = "/", ""
		}
		if u.rawPath == "" || (&url.URL{Path: u.Path}).EscapedPath() == u.rawPath {
			u.rawPath = ""
		}
	}
	return u
}

// normEscaped normalizes an escaped URL path (RFC 3986, 6.2.2): escapes of
// unreserved characters decoded, hex digits uppercase, every character
// that may not appear as is escaped. Escapes of reserved characters stay:
// a server may tell "%2F" from "/".
func normEscaped(p string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]) {
			v := unhex(p[i+1])<<4 | unhex(p[i+2])
			i += 2
			if isUnreserved(v) {
				b.WriteByte(v)
			} else {
				b.WriteByte('%')
				b.WriteByte(hexDigits[v>>4])
				b.WriteByte(hexDigits[v&15])
			}
			continue
		}
		if isUnreserved(c) || strings.IndexByte("!$&'()*+,;=:@/", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func defaultPort(scheme string) string {
	if scheme == SchemeHTTPS {
		return "443"
	}
	return "80"
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// validate checks a URL built by Parse or by hand.
func (u URL) validate() error {
	subject := redact(u.String())
	if strings.IndexFunc(u.Path, isControl) >= 0 {
		return invalidf(subject, "the path holds a control character or NUL (perhaps percent-encoded): such names are refused")
	}
	if strings.IndexFunc(u.Host, isControl) >= 0 || strings.IndexFunc(u.RawQuery, isControl) >= 0 {
		return invalidf(subject, "the host or query holds a control character")
	}
	switch u.Scheme {
	case SchemeFile:
		if u.Host != "" {
			return invalidf(subject, "file URLs name no host: write file:///absolute/path")
		}
		if u.RawQuery != "" {
			return invalidf(subject, "file URLs take no query")
		}
		if !strings.HasPrefix(u.Path, "/") {
			return invalidf(subject, "the path is not absolute: write file:///absolute/path")
		}
		if u.Path == "/" {
			return invalidf(subject, "names no file: write file:///absolute/path/to/file")
		}
		for _, seg := range strings.Split(u.Path[1:], "/") {
			switch seg {
			case "..":
				return invalidf(subject, "the path has a '..' segment (perhaps written %%2e%%2e): write the absolute path without '.' or '..'")
			case ".", "":
				return invalidf(subject, "the path has '.' or empty segments (or ends with '/'): write the absolute path of a file, as in file:///data/run1/out.csv")
			}
		}
	case SchemeNode:
		if u.Host == "" {
			return invalidf(subject, "names no node: write node://NODE/relative/path, as in node://n-1/results/out.csv")
		}
		if !testbed.ValidUID(u.Host) {
			return invalidf(subject, "%q is not a node uid: uids are lowercase letters, digits and '-' (at most %d), as in node://grisou-1/data/f", u.Host, testbed.MaxUIDLength)
		}
		if u.RawQuery != "" {
			return invalidf(subject, "node URLs take no query")
		}
		if u.Path == "" || u.Path == "/" {
			return invalidf(subject, "names no file: write node://%s/relative/path", u.Host)
		}
		if !strings.HasPrefix(u.Path, "/") {
			return invalidf(subject, "the path must follow the node: write node://%s/relative/path", u.Host)
		}
		if _, err := hw.CleanPath(u.Path[1:]); err != nil {
			return invalidf(subject, "%v", err)
		}
		if strings.Contains(u.Path, ".gridflow-tmp-") {
			return invalidf(subject, "the name uses the agents' reserved marker \".gridflow-tmp-\"")
		}
	case SchemeHTTP, SchemeHTTPS:
		h, port := u.Host, ""
		if sh, sp, err := net.SplitHostPort(u.Host); err == nil {
			h, port = sh, sp
		} else if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
			h = h[1 : len(h)-1]
		}
		if h == "" {
			return invalidf(subject, "names no host: write %s://host[:port]/path", u.Scheme)
		}
		if port != "" {
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				return invalidf(subject, "port %q is not a number from 1 to 65535", port)
			}
		}
		if !strings.HasPrefix(u.Path, "/") {
			return invalidf(subject, "the path must start with '/'")
		}
	case "":
		return invalidf("storage URL", "empty: %s", howToWrite)
	default:
		return invalidf(subject, "unsupported scheme %q: %s", u.Scheme, howToWrite)
	}
	return nil
}

// String renders the canonical form: Parse(u.String()) == u for a parsed u.
func (u URL) String() string {
	switch u.Scheme {
	case "":
		return ""
	case SchemeHTTP, SchemeHTTPS:
		return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.rawPath, RawQuery: u.RawQuery}).String()
	}
	var b strings.Builder
	b.WriteString(u.Scheme)
	b.WriteString("://")
	b.WriteString(u.Host)
	segs := strings.Split(u.Path, "/")
	for i, s := range segs {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(url.PathEscape(s))
	}
	if u.RawQuery != "" {
		b.WriteString("?" + u.RawQuery)
	}
	return b.String()
}

// StorageElement is the storage the URL belongs to, FTS3's "storage"
// (per-pair limits and bans apply to it): "file://localhost",
// "https://host[:port]", "node://NODE".
func (u URL) StorageElement() string {
	switch u.Scheme {
	case "":
		return ""
	case SchemeFile:
		return "file://localhost"
	}
	return u.Scheme + "://" + u.Host
}

// IsZero reports whether u is the zero URL.
func (u URL) IsZero() bool { return u == URL{} }

// NodePath is the path of a node URL in the node's file area.
func (u URL) NodePath() string { return strings.TrimPrefix(u.Path, "/") }

// MarshalText renders the canonical form, so that a URL is a JSON string.
func (u URL) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// UnmarshalText parses text with Parse; empty text gives the zero URL.
func (u *URL) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*u = URL{}
		return nil
	}
	v, err := Parse(string(text))
	if err != nil {
		return err
	}
	*u = v
	return nil
}

// redact hides the password of a URL that carries one, for messages.
func redact(raw string) string {
	if pu, err := url.Parse(raw); err == nil && pu.User != nil {
		return pu.Redacted()
	}
	if i := strings.Index(raw, "@"); i >= 0 && strings.Contains(raw[:i], ":") && strings.Contains(raw, "://") {
		// Unparsable but perhaps credentials: keep only the scheme.
		if j := strings.Index(raw, "://"); j >= 0 && j < i {
			return raw[:j+3] + "…@" + raw[i+1:]
		}
	}
	if len(raw) > 512 {
		raw = strings.ToValidUTF8(raw[:512], "") + "…"
	}
	if strings.IndexFunc(raw, isControl) >= 0 {
		raw = strconv.Quote(raw) // no NUL or newline in messages and logs
	}
	return raw
}
