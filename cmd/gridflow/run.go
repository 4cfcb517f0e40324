package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/gridflow/gridflow/api"
	"github.com/gridflow/gridflow/campaigns"
	"github.com/gridflow/gridflow/dsl/testbed"
	"github.com/gridflow/gridflow/engine"
	"github.com/gridflow/gridflow/engine/hw"
	"github.com/gridflow/gridflow/engine/metrics"
	"github.com/gridflow/gridflow/engine/store"
	"github.com/gridflow/gridflow/engine/transfer/storage"
	"github.com/gridflow/gridflow/workflows"
)

// role is what dev and server have in common once Temporal is reachable.
type role struct {
	log         *slog.Logger
	database    string
	testbedFile string
	adminToken  string
	tokenFile   string // where a generated admin token is kept (dev only)
	listener    net.Listener
	temporal    client.Options
	agentToken  string // how the drivers authenticate to gridflow agents
	storage     storage.Policy
}

// openStore opens and migrates the store.
func openStore(ctx context.Context, dsn string) (*store.Store, error) {
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", redact(dsn), err)
	}
	if err := st.MigrateUp(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("migrate database %s: %w", redact(dsn), err)
	}
	return st, nil
}

// redact hides a password in a database URL.
func redact(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		if at := strings.LastIndex(dsn, "@"); at > i {
			if colon := strings.Index(dsn[i+3:at], ":"); colon >= 0 {
				return dsn[:i+3+colon+1] + "***" + dsn[at:]
			}
		}
	}
	return dsn
}

// loadTestbed reads the testbed file (or the built-in one) into the engine; a bad
// file stops the start with diagnostics that show file:line:column and the line.
func loadTestbed(ctx context.Context, eng *engine.Engine, file string) (*engine.Snapshot, error) {
	var src []byte
	name := file
	if file == "" {
		src, name = campaigns.BuiltinTestbed()
	} else {
		var err error
		if src, err = os.ReadFile(file); err != nil {
			return nil, fmt.Errorf("read testbed: %w (set --testbed to an HCL testbed file, or leave it empty for the built-in testbed)", err)
		}
	}
	snap, created, files, diags := eng.LoadTestbed(ctx, src, name, "gridflow", "")
	if diags.HasErrors() {
		return nil, fmt.Errorf("the testbed %s has errors:\n%s", name, testbed.FormatDiagnostics(files, diags))
	}
	if created {
		eng.Logger.Info("testbed loaded as a new version", "file", name, "version", snap.Version.UID)
	}
	return snap, nil
}

// ensureAdmin makes sure the built-in admin user exists and returns a bearer
// token for it: the given one, the one kept in tokenFile, or a new one.
func ensureAdmin(ctx context.Context, st *store.Store, given, tokenFile string) (token string, err error) {
	if _, err := st.GetUser(ctx, "admin"); errors.Is(err, store.ErrNotFound) {
		pw := make([]byte, 24)
		_, _ = rand.Read(pw)
		if _, err := st.CreateUser(ctx, "admin", "", base64.RawURLEncoding.EncodeToString(pw), true); err != nil && !errors.Is(err, store.ErrConflict) {
			return "", fmt.Errorf("create admin user: %w", err)
		}
	} else if err != nil {
		return "", err
	}
	if given != "" {
		if _, err := st.EnsureToken(ctx, "admin", "admin-token", given); err != nil {
			return "", fmt.Errorf("register --admin-token: %w", err)
		}
		return given, nil
	}
	if tokenFile == "" {
		return "", nil
	}
	if b, err := os.ReadFile(tokenFile); err == nil {
		tok := strings.TrimSpace(string(b))
		if _, _, err := st.LookupToken(ctx, tok, time.Now()); err == nil {
			return tok, nil
		}
	}
	tok, _, err := st.CreateToken(ctx, "admin", "admin-token", 0)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(tokenFile, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("keep the admin token in %s: %w", tokenFile, err)
	}
	return tok, nil
}

// maintenanceSchedule runs the Maintenance workflow hourly; creating it on every
// start is harmless because the schedule id is fixed.
func maintenanceSchedule(ctx context.Context, c client.Client) error {
	_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:   "gridflow-maintenance",
		Spec: client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: time.Hour}}},
		Action: &client.ScheduleWorkflowAction{
			ID: "gridflow-maintenance", Workflow: workflows.Maintenance, TaskQueue: engine.TaskQueue,
		},
	})
	if err != nil && !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return err
	}
	return nil
}

// downNodesEvery is how often a replica asks the nodes marked down whether
// their agent answers again.
const downNodesEvery = 10 * time.Second

// missingEvery is how often a replica looks for reservations and campaigns
// whose workflow was never started; missingGrace is how long after its
// start (and its recording) one is left to its own submission.
const (
	missingEvery = 15 * time.Second
	missingGrace = time.Minute
)

// running is a started role; stop it with shutdown.
type running struct {
	eng     *engine.Engine
	http    *http.Server
	worker  worker.Worker
	tc      client.Client
	st      *store.Store
	token   string
	snap    *engine.Snapshot
	stopped chan error
}

// prepared is the part of a role that needs no Temporal: the store, the
// testbed and the admin token. The dev role prepares it while the embedded
// Temporal server starts, so both start-up costs overlap.
type prepared struct {
	st    *store.Store
	eng   *engine.Engine
	snap  *engine.Snapshot
	token string
}

func (r *role) prepare(ctx context.Context) (*prepared, error) {
	st, err := openStore(ctx, r.database)
	if err != nil {
		return nil, err
	}
	eng := engine.New(st, nil, r.log)
	snap, err := loadTestbed(ctx, eng, r.testbedFile)
	if err != nil {
		st.Close()
		return nil, err
	}
	token, err := ensureAdmin(ctx, st, r.adminToken, r.tokenFile)
	if err != nil {
		st.Close()
		return nil, err
	}
	return &prepared{st: st, eng: eng, snap: snap, token: token}, nil
}

// start connects a prepared role to Temporal and serves the API.
func (r *role) start(ctx context.Context, p *prepared) (*running, error) {
	reg := prometheus.NewRegistry()
	r.temporal.MetricsHandler = metrics.NewHandler(reg)
	tc, err := client.DialContext(ctx, r.temporal)
	if err != nil {
		p.st.Close()
		return nil, fmt.Errorf("connect to Temporal at %s: %w", r.temporal.HostPort, err)
	}
	p.eng.SetTemporal(tc)
	p.eng.SetDriverOptions(hw.Options{AgentToken: r.agentToken})
	p.eng.SetStoragePolicy(r.storage)
	w := p.eng.NewWorker()
	if err := w.Start(); err != nil {
		tc.Close()
		p.st.Close()
		return nil, fmt.Errorf("start worker: %w", err)
	}
	// A node whose agent stopped answering is marked down; this notices when
	// it answers again.
	go p.eng.WatchDownNodes(ctx, downNodesEvery)
	// A replica killed between recording a reservation or a campaign and
	// starting its workflow leaves it waiting: any replica starts it.
	go p.eng.StartMissingWorkflows(ctx, missingEvery, missingGrace)
	go func() {
		// Not needed to serve: keep it off the start-up path.
		if err := maintenanceSchedule(ctx, tc); err != nil && ctx.Err() == nil {
			r.log.Warn("cannot create the maintenance schedule; expired tokens will not be purged", "err", err)
		}
	}()
	srv := &http.Server{
		Handler:           api.New(p.eng, api.Options{Logger: r.log, Registry: reg}),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(r.log.Handler(), slog.LevelWarn),
	}
	run := &running{eng: p.eng, http: srv, worker: w, tc: tc, st: p.st, token: p.token, snap: p.snap, stopped: make(chan error, 1)}
	go func() {
		if err := srv.Serve(r.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			run.stopped <- err
		}
		close(run.stopped)
	}()
	return run, nil
}

func (r *running) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = r.http.Shutdown(ctx)
	r.worker.Stop()
	r.tc.Close()
	r.st.Close()
}

// listen binds the API address, naming the flag to change when it is taken.
func listen(addr, flag string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s (%v): choose another address with --%s", addr, errors.Unwrap(err), flag)
	}
	return l, nil
}

func absDir(dir string) string {
	if a, err := filepath.Abs(dir); err == nil {
		return a
	}
	return dir
}
