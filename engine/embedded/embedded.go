// Package embedded runs a persistent Temporal dev server and the Temporal Web UI inside
// the Gridflow process, for the `gridflow dev` role.
//
// State lives in Config.DataDir: the SQLite database (temporal.db), a small state file
// with the cluster id (temporal-state.json) and a lock file that keeps a second process
// off the same database. Stopping and starting again on the same DataDir resumes every
// workflow, timer and activity where it was.
//
// This package links the Temporal server (a large build): import it only from the
// dev-role wiring.
package embedded

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiserveroptions "github.com/temporalio/ui-server/v2/server/server_options"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	tlog "go.temporal.io/server/common/log"
	"go.temporal.io/server/common/membership/static"
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/temporal"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Defaults applied by Start to zero Config fields.
const (
	DefaultFrontendAddress = "127.0.0.1:7233"
	DefaultUIAddress       = "127.0.0.1:8233" // UIAddress "" disables the UI; this is for callers' flags
	DefaultNamespace       = "default"
	DefaultRetention       = 7 * 24 * time.Hour
	DefaultReadyTimeout    = 60 * time.Second
)

const clusterName = "active"

// ErrDataDirInUse is returned (wrapped) by Start when another server, in this process or
// another, already runs on the same DataDir.
var ErrDataDirInUse = errors.New("embedded temporal: data directory is in use by another server")

// Config configures the embedded server. Only DataDir is required.
type Config struct {
	// DataDir holds the SQLite file DataDir/temporal.db and the server's state; created
	// if missing.
	DataDir string
	// FrontendAddress is the gRPC frontend's host:port (default 127.0.0.1:7233). Port 0
	// picks a free port; FrontendAddress() reports it.
	FrontendAddress string
	// UIAddress is the Web UI's host:port, e.g. 127.0.0.1:8233; "" disables the UI.
	// Port 0 picks a free port; UIURL() reports it.
	UIAddress string
	// Namespace is created on first start (default "default").
	Namespace string
	// Retention of closed workflows in Namespace when it is created (default 7 days).
	Retention time.Duration
	// Logger receives the server's logs (default slog.Default()).
	Logger *slog.Logger
	// ServerLogLevel is the lowest level of the server's own logs passed to Logger:
	// "debug", "info", "warn" (default) or "error". The server prints hundreds of info
	// lines per start. From Stop on, the shutdown noise is dropped.
	ServerLogLevel string

	// Ports of the frontend's HTTP API and of the internal services on 127.0.0.1
	// (membership only). 0 picks a free port on every start, which is fine: the
	// addresses are not part of the persisted state that matters.
	FrontendHTTPPort int
	HistoryPort      int
	MatchingPort     int
	WorkerPort       int

	// ReadyTimeout bounds how long Start waits for the frontend and the UI to answer
	// (default 60 s); the ctx given to Start bounds it too.
	ReadyTimeout time.Duration
	// DynamicConfig overrides server dynamic config values by key.
	DynamicConfig map[string]any
}

// Server is a running embedded Temporal server and, optionally, its Web UI.
type Server struct {
	cfg          Config
	frontendAddr string // dialable host:port
	uiURL        string
	httpAddr     string
	dbPath       string
	clusterID    string
	readyAfter   time.Duration

	logLevel zap.AtomicLevel

	server  temporal.Server
	ui      *uiserver.Server
	uiDone  chan struct{}
	release func()

	stopOnce sync.Once
	stopErr  error
}

// Start starts the server and the UI and returns once the frontend answers for the
// namespace and the UI serves its page. Every port is checked before anything starts;
// a taken one gives a *PortInUseError.
func Start(ctx context.Context, cfg Config) (_ *Server, err error) {
	began := time.Now()
	if cfg.DataDir == "" {
		return nil, errors.New("embedded temporal: Config.DataDir is required")
	}
	if cfg.FrontendAddress == "" {
		cfg.FrontendAddress = DefaultFrontendAddress
	}
	if cfg.Namespace == "" {
		cfg.Namespace = DefaultNamespace
	}
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = DefaultReadyTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	logLevel, err := zap.ParseAtomicLevel(cmp.Or(cfg.ServerLogLevel, "warn"))
	if err != nil {
		return nil, fmt.Errorf("embedded temporal: ServerLogLevel: %w", err)
	}

	// Addresses.
	feHost, fePort, err := splitAddress(cfg.FrontendAddress)
	if err != nil {
		return nil, fmt.Errorf("embedded temporal: frontend %w", err)
	}
	fe := &binding{purpose: PurposeFrontend, host: feHost, port: fePort}
	bindings := []*binding{fe}
	var ui *binding
	if cfg.UIAddress != "" {
		uiHost, uiPort, err := splitAddress(cfg.UIAddress)
		if err != nil {
			return nil, fmt.Errorf("embedded temporal: ui %w", err)
		}
		ui = &binding{purpose: PurposeUI, host: uiHost, port: uiPort}
		bindings = append(bindings, ui)
	}
	httpB := &binding{purpose: PurposeFrontendHTTP, host: feHost, port: cfg.FrontendHTTPPort}
	history := &binding{purpose: PurposeHistory, host: "127.0.0.1", port: cfg.HistoryPort}
	matching := &binding{purpose: PurposeMatching, host: "127.0.0.1", port: cfg.MatchingPort}
	worker := &binding{purpose: PurposeWorker, host: "127.0.0.1", port: cfg.WorkerPort}
	bindings = append(bindings, httpB, history, matching, worker)

	// Data directory and its lock.
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("embedded temporal: %w", err)
	}
	if strings.ContainsAny(dir, "?#") {
		return nil, fmt.Errorf("embedded temporal: DataDir %q must not contain '?' or '#'", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("embedded temporal: %w", err)
	}
	unlock, err := lockDataDir(filepath.Join(dir, lockFileName))
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, logLevel: logLevel, release: sync.OnceFunc(unlock)}
	defer func() {
		if err != nil {
			_ = s.Stop() // stops what was started and releases the lock
		}
	}()

	// Ports: pick the free ones, then check all of them before starting anything.
	if err := allocatePorts(bindings); err != nil {
		return nil, err
	}
	if err := checkPorts(bindings); err != nil {
		return nil, err
	}
	s.frontendAddr = net.JoinHostPort(dialHost(fe.host), strconv.Itoa(fe.port))
	s.httpAddr = net.JoinHostPort(dialHost(httpB.host), strconv.Itoa(httpB.port))

	// The UI first: its listen failure ends the process, so keep the time between the
	// port check and its bind short. It serves its page without the frontend.
	if ui != nil {
		s.uiURL = "http://" + net.JoinHostPort(dialHost(ui.host), strconv.Itoa(ui.port))
		s.startUI(ui)
	}

	st, err := loadOrCreateState(dir)
	if err != nil {
		return nil, err
	}
	s.clusterID = st.ClusterID
	s.dbPath = filepath.Join(dir, dbFileName)
	sqlConf := sqlConfig(s.dbPath)
	schemaCreated, err := ensureSchema(s.dbPath)
	if err != nil {
		return nil, err
	}
	if err := createNamespace(sqlConf, clusterName, cfg.Namespace, cfg.Retention); err != nil {
		return nil, err
	}
	prepared := time.Since(began) // lock, ports, UI, state, schema, namespace

	var starting atomic.Bool
	starting.Store(true)
	defer starting.Store(false)
	zl := newServerZapLogger(cfg.Logger, s.logLevel, &starting)

	conf := s.serverConfig(sqlConf, fe, httpB, history, matching, worker)
	dc := dynamicconfig.StaticClient{
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key():                 8096,
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
	}
	for k, v := range cfg.DynamicConfig {
		dc[dynamicconfig.MakeKey(k)] = v
	}
	hostPort := func(b *binding) static.Hosts {
		return static.SingleLocalHost(net.JoinHostPort(dialHost(b.host), strconv.Itoa(b.port)))
	}
	if err := recoverFatal(func() error {
		srv, err := temporal.NewServer(
			temporal.WithConfig(conf),
			temporal.ForServices(temporal.DefaultServices),
			temporal.WithStaticHosts(map[primitives.ServiceName]static.Hosts{
				primitives.FrontendService: hostPort(fe),
				primitives.HistoryService:  hostPort(history),
				primitives.MatchingService: hostPort(matching),
				primitives.WorkerService:   hostPort(worker),
			}),
			temporal.WithLogger(tlog.NewZapLogger(zl)),
			temporal.WithDynamicConfigClient(dc),
		)
		if err != nil {
			return err
		}
		s.server = srv
		return srv.Start()
	}); err != nil {
		return nil, fmt.Errorf("embedded temporal: starting server: %w", err)
	}
	serverStarted := time.Since(began)

	readyCtx, cancel := context.WithTimeout(ctx, cfg.ReadyTimeout)
	defer cancel()
	if err := s.waitReady(readyCtx); err != nil {
		return nil, err
	}
	s.readyAfter = time.Since(began)
	cfg.Logger.Info("embedded temporal ready",
		"frontend", s.frontendAddr, "ui", s.uiURL, "namespace", cfg.Namespace,
		"db", s.dbPath, "schemaCreated", schemaCreated, "readyAfter", s.readyAfter.Round(time.Millisecond),
		"prepared", prepared.Round(time.Millisecond), "serverStarted", serverStarted.Round(time.Millisecond))
	return s, nil
}

func (s *Server) startUI(ui *binding) {
	s.ui = uiserver.NewServer(uiserveroptions.WithConfigProvider(&uiconfig.Config{
		Host:                bracketIPv6(ui.host),
		Port:                ui.port,
		TemporalGRPCAddress: s.frontendAddr,
		EnableUI:            true,
		DefaultNamespace:    s.cfg.Namespace,
		DisableNewsFetch:    true,
		HideLogs:            true,
		CORS:                uiconfig.CORS{CookieInsecure: true},
	}))
	s.uiDone = make(chan struct{})
	go func() {
		defer close(s.uiDone)
		// Start blocks until Stop. A listen failure makes it end the process, which the
		// port check is there to prevent.
		_ = s.ui.Start()
	}()
}

// recoverFatal runs f, turning a server Fatal log (a *fatalError panic while starting)
// into an error; a port failure becomes a *PortInUseError.
func recoverFatal(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			fe, ok := r.(*fatalError)
			if !ok {
				panic(r)
			}
			err = fe
			if addr, _ := fe.fields["address"].(string); addr != "" && strings.Contains(fe.msg, "listener") {
				svc, _ := fe.fields["service"].(string)
				err = &PortInUseError{Address: addr, Purpose: svc, Err: fe}
			}
		}
	}()
	return f()
}

func (s *Server) serverConfig(sqlConf *config.SQL, fe, httpB, history, matching, worker *binding) *config.Config {
	var conf config.Config
	conf.Global.Membership = config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: "127.0.0.1"}
	conf.Persistence = config.Persistence{
		DefaultStore:     "sqlite-default",
		VisibilityStore:  "sqlite-default",
		NumHistoryShards: 1,
		DataStores:       map[string]config.DataStore{"sqlite-default": {SQL: sqlConf}},
	}
	conf.ClusterMetadata = &cluster.Config{
		EnableGlobalNamespace:    false,
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			clusterName: {
				Enabled:                true,
				InitialFailoverVersion: 1,
				RPCAddress:             s.frontendAddr,
				HTTPAddress:            s.httpAddr,
				ClusterID:              s.clusterID,
			},
		},
	}
	conf.DCRedirectionPolicy.Policy = "noop"
	svc := func(b *binding, httpPort int) config.Service {
		return config.Service{RPC: config.RPC{GRPCPort: b.port, BindOnIP: b.host, HTTPPort: httpPort}}
	}
	conf.Services = map[string]config.Service{
		string(primitives.FrontendService): svc(fe, httpB.port),
		string(primitives.HistoryService):  svc(history, 0),
		string(primitives.MatchingService): svc(matching, 0),
		string(primitives.WorkerService):   svc(worker, 0),
	}
	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	conf.PublicClient.HostPort = s.frontendAddr
	return &conf
}

// waitReady polls until the frontend describes the namespace and the UI serves HTML.
func (s *Server) waitReady(ctx context.Context) error {
	c, err := s.dialWhenUp(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	var lastErr error
	for {
		if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
			lastErr = fmt.Errorf("frontend health: %w", err)
		} else if _, err := c.WorkflowService().DescribeNamespace(ctx,
			&workflowservice.DescribeNamespaceRequest{Namespace: s.cfg.Namespace}); err != nil {
			lastErr = fmt.Errorf("describe namespace %q: %w", s.cfg.Namespace, err)
		} else if err := s.checkUI(ctx); err != nil {
			lastErr = err
		} else {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("embedded temporal: not ready: %w (last: %v)", ctx.Err(), lastErr)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *Server) dialWhenUp(ctx context.Context) (client.Client, error) {
	for {
		c, err := client.DialContext(ctx, s.clientOptions())
		if err == nil {
			return c, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("embedded temporal: frontend %s not reachable: %w (last: %v)", s.frontendAddr, ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *Server) clientOptions() client.Options {
	return client.Options{
		HostPort:  s.frontendAddr,
		Namespace: s.cfg.Namespace,
		Logger:    quietSDKLogger(s.cfg.Logger),
	}
}

func (s *Server) checkUI(ctx context.Context) error {
	if s.uiURL == "" {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.uiURL+"/", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("ui: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		return fmt.Errorf("ui: GET / answered %s (%s)", resp.Status, resp.Header.Get("Content-Type"))
	}
	return nil
}

// quietSDKLogger is an SDK logger writing warn and above to logger.
func quietSDKLogger(logger *slog.Logger) sdklog.Logger {
	return sdklog.NewStructuredLogger(slog.New(minLevelHandler{Handler: logger.Handler(), min: slog.LevelWarn}))
}

// FrontendAddress is the host:port a client dials to reach the frontend.
func (s *Server) FrontendAddress() string { return s.frontendAddr }

// UIURL is the Web UI's base URL, e.g. http://127.0.0.1:8233, or "" without UI.
func (s *Server) UIURL() string { return s.uiURL }

// Namespace is the namespace the server was started with.
func (s *Server) Namespace() string { return s.cfg.Namespace }

// DatabasePath is the SQLite file holding the server's state.
func (s *Server) DatabasePath() string { return s.dbPath }

// ClusterID is the persisted UUID of this server's cluster.
func (s *Server) ClusterID() string { return s.clusterID }

// ReadyAfter is how long Start took until the frontend and UI answered.
func (s *Server) ReadyAfter() time.Duration { return s.readyAfter }

// ClientOptions are SDK client options for this server (host, namespace, a logger at
// warn level); callers may change them before client.Dial.
func (s *Server) ClientOptions() client.Options { return s.clientOptions() }

// Stop stops the UI and then the server and releases the data directory. It is safe to
// call more than once; later calls return the first call's result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		var errs []error
		// Failing pollers, cancelled persistence calls and refused connections are
		// expected while the services go down; only a fatal log passes from now on.
		if s.logLevel.Level() < zapcore.FatalLevel {
			s.logLevel.SetLevel(zapcore.FatalLevel)
		}
		if s.ui != nil {
			s.ui.Stop()
			select {
			case <-s.uiDone:
			case <-time.After(10 * time.Second):
				errs = append(errs, errors.New("embedded temporal: UI server did not stop within 10s"))
			}
		}
		if s.server != nil {
			if err := s.server.Stop(); err != nil {
				errs = append(errs, fmt.Errorf("embedded temporal: stopping server: %w", err))
			}
		}
		if s.release != nil {
			s.release()
		}
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}

func bracketIPv6(host string) string {
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		return "[" + host + "]"
	}
	return host
}
