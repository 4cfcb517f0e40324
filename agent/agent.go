package agent

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Config configures an agent.
type Config struct {
	// Listen is the host:port Run listens on.
	Listen string
	// DataDir holds everything the agent keeps: the file area, installed
	// environments, process records and output, and its state.
	DataDir string
	// Token is the bearer token every request must carry. Required.
	Token string
	// TLSCert and TLSKey, PEM files, make Run serve HTTPS.
	TLSCert, TLSKey string
	// DockerHost is the Docker Engine endpoint for containers
	// ("unix:///var/run/docker.sock", "tcp://127.0.0.1:2375"); empty: no containers.
	DockerHost string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// KillGrace is how long a killed process has between SIGTERM and SIGKILL
	// (default 5s).
	KillGrace time.Duration
	// OutputLimit bounds the bytes of each stream an output answer returns
	// (default 1 MiB); the files on disk keep everything.
	OutputLimit int64
	// Fetch is the client that downloads environment archives (default: a
	// client without overall timeout, as archives are large).
	Fetch *http.Client
}

// Agent is the node agent: an http.Handler serving the agent API over the
// host it runs on. Create it with New; Close it when done.
type Agent struct {
	cfg       Config
	tokenHash [32]byte
	log       *slog.Logger
	mux       *http.ServeMux

	files   *os.Root // DataDir/files
	procDir string   // DataDir/procs
	envDir  string   // DataDir/envs
	tmpDir  string   // DataDir/tmp

	// lifecycle is held shared by the calls that start or change things and
	// exclusively by a reboot, so nothing starts while the node "reboots".
	lifecycle sync.RWMutex
	stateMu   sync.Mutex
	state     state
	envMu     sync.Mutex // one environment install at a time

	procs  *procManager
	docker *dockerClient

	closeOnce sync.Once
	closed    chan struct{}
}

// New prepares the data directory and returns an agent ready to serve.
func New(cfg Config) (*Agent, error) {
	if cfg.Token == "" {
		return nil, errors.New("agent: a token is required: every request must carry it as \"Authorization: Bearer <token>\"")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("agent: a data directory is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.KillGrace <= 0 {
		cfg.KillGrace = 5 * time.Second
	}
	if cfg.OutputLimit <= 0 {
		cfg.OutputLimit = 1 << 20
	}
	if cfg.Fetch == nil {
		cfg.Fetch = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   30 * time.Second,
			ResponseHeaderTimeout: 2 * time.Minute,
		}}
	}
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("agent: data directory %s: %w", cfg.DataDir, err)
	}
	cfg.DataDir = dir
	a := &Agent{
		cfg:       cfg,
		tokenHash: sha256.Sum256([]byte(cfg.Token)),
		log:       cfg.Logger,
		procDir:   filepath.Join(dir, "procs"),
		envDir:    filepath.Join(dir, "envs"),
		tmpDir:    filepath.Join(dir, "tmp"),
		closed:    make(chan struct{}),
	}
	for _, d := range []string{filepath.Join(dir, "files"), a.procDir, a.envDir, a.tmpDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("agent: create %s: %w (is the data directory writable?)", d, err)
		}
	}
	if a.files, err = os.OpenRoot(filepath.Join(dir, "files")); err != nil {
		return nil, fmt.Errorf("agent: open file area: %w", err)
	}
	if n := a.sweepUploads(); n > 0 {
		a.log.Info("removed unfinished uploads of an earlier run", "files", n)
	}
	if err := a.loadState(); err != nil {
		a.files.Close()
		return nil, err
	}
	if cfg.DockerHost != "" {
		if a.docker, err = newDockerClient(cfg.DockerHost, a.state.AgentID); err != nil {
			a.files.Close()
			return nil, err
		}
	}
	a.procs = newProcManager(a)
	if err := a.procs.load(); err != nil {
		a.files.Close()
		return nil, err
	}
	a.routes()
	return a, nil
}

func (a *Agent) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /v1/info", a.handleInfo)
	m.HandleFunc("POST /v1/reboot", a.handleReboot)
	m.HandleFunc("GET /v1/environment", a.handleGetEnvironment)
	m.HandleFunc("POST /v1/environment", a.handleInstallEnvironment)

	m.HandleFunc("POST /v1/processes", a.handleStartProcess)
	m.HandleFunc("GET /v1/processes", a.handleListProcesses)
	m.HandleFunc("GET /v1/processes/{id}", a.handleGetProcess)
	m.HandleFunc("GET /v1/processes/{id}/output", a.handleOutput)
	m.HandleFunc("GET /v1/processes/{id}/output/{stream}", a.handleRawOutput)
	m.HandleFunc("DELETE /v1/processes/{id}", a.handleKillProcess)
	m.HandleFunc("DELETE /v1/reservations/{id}", a.handleStopReservation)

	m.HandleFunc("PUT /v1/files/{path...}", a.handlePutFile)
	m.HandleFunc("POST /v1/files/{path...}", a.handlePullFile)
	m.HandleFunc("GET /v1/files/{path...}", a.handleGetFile) // also HEAD
	m.HandleFunc("DELETE /v1/files/{path...}", a.handleDeleteFile)

	m.HandleFunc("POST /v1/containers", a.handleCreateContainer)
	m.HandleFunc("GET /v1/containers", a.handleListContainers)
	m.HandleFunc("GET /v1/containers/{id}", a.handleGetContainer)
	m.HandleFunc("POST /v1/containers/{id}/start", a.handleStartContainer)
	m.HandleFunc("POST /v1/containers/{id}/stop", a.handleStopContainer)
	m.HandleFunc("DELETE /v1/containers/{id}", a.handleDeleteContainer)
	m.HandleFunc("POST /v1/containers/{id}/jobs", a.handleStartJob)
	m.HandleFunc("GET /v1/containers/{id}/jobs", a.handleListJobs)
	m.HandleFunc("GET /v1/containers/{id}/jobs/{job}", a.handleGetJob)
	m.HandleFunc("GET /v1/containers/{id}/jobs/{job}/output", a.handleJobOutput)
	m.HandleFunc("DELETE /v1/containers/{id}/jobs/{job}", a.handleKillJob)
	m.HandleFunc("GET /v1/containers/{id}/processes", a.handleContainerProcesses)
	a.mux = m
}

// ServeHTTP authenticates the request and serves it.
func (a *Agent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !a.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gridflow-agent"`)
		writeProblem(w, http.StatusUnauthorized, CodeUnauthorized, "Unauthorized", "send the agent token as \"Authorization: Bearer <token>\"")
		return
	}
	// ServeMux would answer a non-canonical path ("/v1/files/a/../b", also
	// spelled with %2e%2e or %2f) with a redirect; refuse it plainly instead,
	// so that no client follows it somewhere else.
	if p := r.URL.Path; !canonical(p) {
		writeProblem(w, http.StatusBadRequest, CodeInvalid, "Invalid path", fmt.Sprintf("%q has '.', '..' or empty segments; name files relative to the file area, without them", p))
		return
	}
	a.mux.ServeHTTP(w, r)
}

func canonical(p string) bool {
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
}

func (a *Agent) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	// Comparing hashes keeps the comparison constant-time in the length too.
	got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(got[:], a.tokenHash[:]) == 1
}

// Close releases the agent's resources. Managed processes keep running: an
// agent that restarts on the same data directory finds them again.
func (a *Agent) Close() error {
	a.closeOnce.Do(func() {
		close(a.closed)
		a.procs.close()
		a.files.Close()
	})
	return nil
}

// Run listens on cfg.Listen and serves the agent until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("agent: listen on %s: %w (is another agent running there?)", cfg.Listen, err)
	}
	return Serve(ctx, l, cfg)
}

// Serve serves the agent on l until ctx ends, then shuts down gracefully.
// It closes l.
func Serve(ctx context.Context, l net.Listener, cfg Config) error {
	a, err := New(cfg)
	if err != nil {
		l.Close()
		return err
	}
	defer a.Close()
	srv := &http.Server{
		Handler:           a,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		if cfg.TLSCert == "" || cfg.TLSKey == "" {
			l.Close()
			return errors.New("agent: give both a TLS certificate and a TLS key, or neither")
		}
		pair, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			l.Close()
			return fmt.Errorf("agent: load TLS certificate: %w", err)
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}
		l = tls.NewListener(l, srv.TLSConfig)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("agent: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	return nil
}

// idPattern restricts client-given process and container ids: they become
// directory and container names.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

func validID(id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("invalid id %q: use 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit", id)
	}
	return nil
}

// maxJSONBody bounds the JSON documents the agent accepts.
const maxJSONBody = 1 << 20

func decodeJSON(w http.ResponseWriter, r *http.Request, v any, optional bool) bool {
	body := http.MaxBytesReader(w, r.Body, maxJSONBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if optional && errors.Is(err, io.EOF) {
			return true
		}
		writeProblem(w, http.StatusBadRequest, CodeInvalid, "Invalid JSON body", err.Error())
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeProblem(w http.ResponseWriter, status int, code, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Del(HeaderChecksum)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(Problem{Title: title, Status: status, Detail: detail, Code: code})
}
