package agent

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/gridflow/gridflow/agent/checksum"
)

// envNamePattern: an environment name becomes a directory under DataDir/envs.
var envNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$`)

// envError is an install failure with the status that answers it.
type envError struct {
	status int
	code   string
	title  string
	err    error
}

func (e *envError) Error() string { return e.title + ": " + e.err.Error() }

func envFail(status int, code, title string, format string, args ...any) *envError {
	return &envError{status: status, code: code, title: title, err: fmt.Errorf(format, args...)}
}

func (a *Agent) handleInstallEnvironment(w http.ResponseWriter, r *http.Request) {
	var req EnvironmentRequest
	if !decodeJSON(w, r, &req, false) {
		return
	}
	if err := a.installEnvironment(r.Context(), req); err != nil {
		var ee *envError
		if errors.As(err, &ee) {
			writeProblem(w, ee.status, ee.code, ee.title, ee.err.Error())
		} else {
			writeProblem(w, http.StatusInternalServerError, CodeInternal, "Environment install failed", err.Error())
		}
		return
	}
	a.handleInfo(w, r)
}

// installEnvironment downloads the archive of req while checking its checksum,
// unpacks it into DataDir/envs/<name> and reboots the node into it. Installing
// the environment the node already runs, with the same checksum, does nothing.
func (a *Agent) installEnvironment(ctx context.Context, req EnvironmentRequest) error {
	if !envNamePattern.MatchString(req.Name) {
		return envFail(http.StatusBadRequest, CodeInvalid, "Invalid environment name",
			"%q: use 1 to 128 letters, digits, '.', '_', '@', '+' or '-', as in \"debian12-min@2024.1\"", req.Name)
	}
	if req.Checksum == "" {
		return envFail(http.StatusBadRequest, CodeInvalid, "Missing checksum",
			"an environment archive is verified before it is installed: give its checksum as \"sha256:<hex>\"")
	}
	want, err := checksum.Parse(req.Checksum)
	if err != nil {
		return envFail(http.StatusBadRequest, CodeInvalid, "Invalid checksum", "%v", err)
	}
	a.envMu.Lock()
	defer a.envMu.Unlock()

	target := filepath.Join(a.envDir, req.Name)
	a.stateMu.Lock()
	cur := a.state.Environment
	a.stateMu.Unlock()
	if cur != nil && cur.Name == req.Name && cur.Checksum == want.String() {
		if _, err := os.Stat(target); err == nil {
			return nil
		}
	}

	src, err := a.openArchive(ctx, req.URL)
	if err != nil {
		return err
	}
	defer src.Close()
	dl, err := os.CreateTemp(a.tmpDir, "env-*.download")
	if err != nil {
		return err
	}
	defer os.Remove(dl.Name())
	defer dl.Close()
	h, _ := checksum.NewHasher(want.Algorithm)
	if _, err := io.Copy(io.MultiWriter(dl, h), src); err != nil {
		return envFail(http.StatusBadGateway, CodeUnavailable, "Download failed", "reading %s: %v", req.URL, err)
	}
	if got := h.Sum(want.Algorithm); !got.Equal(want) {
		return envFail(http.StatusUnprocessableEntity, CodeChecksumMismatch, "Checksum mismatch",
			"the archive at %s has %s, not the expected %s; nothing was installed", req.URL, got, want)
	}
	if _, err := dl.Seek(0, io.SeekStart); err != nil {
		return err
	}
	staging, err := os.MkdirTemp(a.envDir, ".staging-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(staging)
	if err := unpack(dl, staging); err != nil {
		return envFail(http.StatusUnprocessableEntity, CodeInvalid, "Invalid archive", "%s: %v", req.URL, err)
	}
	// The running environment is replaced as a whole: remove the old tree,
	// then move the new one in.
	old := target + ".old-" + newID()
	if err := os.Rename(target, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Rename(staging, target); err != nil {
		return err
	}
	_ = os.RemoveAll(old)
	env := &Environment{Name: req.Name, URL: req.URL, Checksum: want.String(), InstalledAt: time.Now().UTC(), Path: target}
	a.log.Info("environment installed", "name", req.Name, "checksum", want.String())
	return a.reboot(0, env)
}

// openArchive opens an http(s) URL or a file of the file area ("file:" URL).
func (a *Agent) openArchive(ctx context.Context, raw string) (io.ReadCloser, error) {
	u, err := url.Parse(raw)
	if err != nil || raw == "" {
		return nil, envFail(http.StatusBadRequest, CodeInvalid, "Invalid URL", "%q: give an http(s):// URL or file:<path> in the agent's file area", raw)
	}
	switch u.Scheme {
	case "http", "https":
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
		if err != nil {
			return nil, envFail(http.StatusBadRequest, CodeInvalid, "Invalid URL", "%v", err)
		}
		resp, err := a.cfg.Fetch.Do(req)
		if err != nil {
			return nil, envFail(http.StatusBadGateway, CodeUnavailable, "Download failed", "%v", err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			status := http.StatusBadGateway
			code := CodeUnavailable
			if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone {
				status, code = http.StatusUnprocessableEntity, CodeNotFound
			}
			return nil, envFail(status, code, "Download failed", "GET %s answered %s", raw, resp.Status)
		}
		return resp.Body, nil
	case "file":
		p := u.Path
		if p == "" {
			p = u.Opaque
		}
		p = strings.TrimPrefix(p, "/")
		if u.Host != "" {
			p = u.Host + "/" + p
		}
		clean, err := cleanFilePath(p)
		if err != nil {
			return nil, envFail(http.StatusBadRequest, CodeInvalid, "Invalid file URL", "%v", err)
		}
		f, err := a.files.Open(clean)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, envFail(http.StatusUnprocessableEntity, CodeNotFound, "No such archive", "%q is not in the file area; upload it with PUT /v1/files/%s first", clean, clean)
			}
			return nil, envFail(http.StatusForbidden, CodeForbidden, "Cannot open archive", "%v", err)
		}
		return f, nil
	}
	return nil, envFail(http.StatusBadRequest, CodeInvalid, "Unsupported URL", "%q: give an http(s):// URL or file:<path> in the agent's file area", raw)
}

// unpack extracts a tar archive, gzip-compressed or not, beneath dir. Entries
// cannot leave dir: names are checked and every access goes through an os.Root.
func unpack(r io.Reader, dir string) error {
	br := bufio.NewReader(r)
	var tr *tar.Reader
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		defer gz.Close()
		tr = tar.NewReader(gz)
	} else {
		tr = tar.NewReader(br)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	entries := 0
	for {
		hd, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("tar: %w", err)
		}
		entries++
		name := strings.TrimPrefix(path.Clean("/"+hd.Name), "/")
		if name == "" {
			continue // the archive's root
		}
		if hd.Name != name && hd.Name != name+"/" && hd.Name != "./"+name && hd.Name != "./"+name+"/" {
			return fmt.Errorf("entry %q is not a plain relative path", hd.Name)
		}
		mode := hd.FileInfo().Mode().Perm()
		if d := path.Dir(name); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("entry %q: %w", hd.Name, err)
			}
		}
		switch hd.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, mode|0o700); err != nil {
				return fmt.Errorf("entry %q: %w", hd.Name, err)
			}
		case tar.TypeReg:
			f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
			if err != nil {
				return fmt.Errorf("entry %q: %w", hd.Name, err)
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("entry %q: %w", hd.Name, err)
			}
		case tar.TypeSymlink:
			if err := root.Symlink(hd.Linkname, name); err != nil {
				return fmt.Errorf("entry %q: %w", hd.Name, err)
			}
		case tar.TypeLink:
			if err := root.Link(strings.TrimPrefix(path.Clean("/"+hd.Linkname), "/"), name); err != nil {
				return fmt.Errorf("entry %q: %w", hd.Name, err)
			}
		default:
			// Devices, fifos and the like have no place in an unprivileged unpack.
		}
	}
	if entries == 0 {
		return errors.New("the archive is empty")
	}
	return nil
}
