package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gridflow/gridflow/dsl/units"
	"github.com/gridflow/gridflow/engine"
	"github.com/gridflow/gridflow/engine/embedded"
)

func devCommand() *cli.Command {
	return &cli.Command{
		Name:  "dev",
		Usage: "run everything in one process: embedded Temporal + Web UI, worker, REST API, SQLite store, built-in testbed",
		Flags: append([]cli.Flag{
			stringFlag("data-dir", "./.gridflow", "directory that keeps all state (Temporal and Gridflow databases, admin token)"),
			stringFlag("listen", "127.0.0.1:8080", "address of the REST API, its OpenAPI document and docs"),
			stringFlag("ui-listen", "127.0.0.1:8233", "address of the Temporal Web UI"),
			stringFlag("temporal-listen", "127.0.0.1:7233", "address of the embedded Temporal frontend (gRPC)"),
			stringFlag("testbed", "", "HCL testbed description (default: the built-in testbed)"),
			&cli.StringFlag{Name: "agent-token", Usage: "bearer token of the gridflow agents of agent-driven clusters", EnvVars: []string{"GRIDFLOW_AGENT_TOKEN"}},
			stringFlag("admin-token", "", "bearer token of the built-in admin user (default: generated once and kept in the data dir)"),
		}, slices.Concat(transferFlags, jobFlags, logFlags)...),
		Action: runDev,
	}
}

// purposeFlags names the flag a user changes when an embedded port is taken.
var purposeFlags = map[string]string{
	embedded.PurposeFrontend: "temporal-listen",
	embedded.PurposeUI:       "ui-listen",
}

func runDev(c *cli.Context) error {
	started := time.Now()
	log := newLogger(c)
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()

	dataDir := absDir(c.String("data-dir"))
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("create --data-dir %s: %w", dataDir, err)
	}
	// Bind the API first: it is the port users most often collide on, and the
	// embedded server would otherwise start for nothing.
	l, err := listen(c.String("listen"), "listen")
	if err != nil {
		return err
	}
	defer l.Close()

	r := &role{
		log:         log,
		database:    filepath.Join(dataDir, "gridflow.db"),
		testbedFile: c.String("testbed"),
		adminToken:  c.String("admin-token"),
		agentToken:  c.String("agent-token"),
		tokenFile:   filepath.Join(dataDir, "admin-token"),
		listener:    l,
	}
	if r.storage, err = storagePolicy(c, filepath.Join(dataDir, "files")); err != nil {
		return err
	}
	// The store, the testbed and the embedded Temporal server start side by side.
	type prepResult struct {
		p   *prepared
		err error
	}
	prepDone := make(chan prepResult, 1)
	go func() {
		p, err := r.prepare(ctx)
		prepDone <- prepResult{p, err}
	}()
	ts, err := embedded.Start(ctx, embedded.Config{
		DataDir:         filepath.Join(dataDir, "temporal"),
		FrontendAddress: c.String("temporal-listen"),
		UIAddress:       c.String("ui-listen"),
		Namespace:       "default",
		Logger:          log,
	})
	prep := <-prepDone
	if err != nil {
		if prep.p != nil {
			prep.p.st.Close()
		}
		return embeddedError(err, dataDir)
	}
	defer ts.Stop()
	if prep.err != nil {
		return prep.err
	}
	opts := ts.ClientOptions()
	opts.Logger = quietLogger(log)
	r.temporal = opts
	if err := configureJobs(c, prep.p.eng, filepath.Join(dataDir, "sandboxes")); err != nil {
		prep.p.st.Close()
		return err
	}
	run, err := r.start(ctx, prep.p)
	if err != nil {
		return err
	}
	defer run.shutdown()

	api := "http://" + l.Addr().String()
	nodes := len(run.snap.Testbed.Nodes())
	fmt.Printf(`Gridflow dev is ready in %s (data in %s)
  REST API     %s/v1   (testbed version %s: %d sites, %d nodes)
  API docs     %s/docs   OpenAPI: %s/openapi.json
  Temporal UI  %s   (frontend %s, namespace default)
  Metrics      %s/metrics
Authenticate as the admin user with the bearer token:
  export GRIDFLOW_TOKEN=%s
  curl -H "Authorization: Bearer $GRIDFLOW_TOKEN" %s/v1/whoami
Press Ctrl-C to stop; starting again on the same data dir resumes everything.
`, time.Since(started).Round(time.Millisecond), dataDir, api, short(run.snap.Version.UID), len(run.snap.Testbed.Sites), nodes,
		api, api, ts.UIURL(), ts.FrontendAddress(), api, run.token, api)

	select {
	case <-ctx.Done():
		log.Info("stopping")
	case err := <-run.stopped:
		if err != nil {
			return fmt.Errorf("API server: %w", err)
		}
	}
	return nil
}

// embeddedError says which flag to change when the embedded server cannot start.
func embeddedError(err error, dataDir string) error {
	var pe *embedded.PortInUseError
	if errors.As(err, &pe) {
		if flag, ok := purposeFlags[pe.Purpose]; ok {
			return fmt.Errorf("%s is already in use (Temporal %s): choose another address with --%s", pe.Address, pe.Purpose, flag)
		}
		return fmt.Errorf("%s is already in use (Temporal %s): free it and start again", pe.Address, pe.Purpose)
	}
	if errors.Is(err, embedded.ErrDataDirInUse) {
		return fmt.Errorf("another gridflow dev already runs on --data-dir %s: stop it or choose another data dir", dataDir)
	}
	return fmt.Errorf("start embedded Temporal: %w", err)
}

func short(uid string) string {
	if len(uid) > 12 {
		return uid[:12]
	}
	return uid
}

// jobFlags say where grid job sandboxes are kept and how jobs watch nodes.
var jobFlags = []cli.Flag{
	stringFlag("sandbox-limit", "10MiB", "largest input or output sandbox of a grid job (the bytes of its files)"),
	&cli.DurationFlag{Name: "job-node-lost-after", Value: 15 * time.Second, EnvVars: env("job-node-lost-after"),
		Usage: "how long a grid job's node may not answer before the job moves to another node"},
}

// configureJobs applies jobFlags; dir is where sandboxes are kept.
func configureJobs(c *cli.Context, eng *engine.Engine, dir string) error {
	limit, err := units.ParseSize(c.String("sandbox-limit"))
	if err != nil || limit <= 0 {
		return fmt.Errorf("--sandbox-limit %q: give a size such as 10MiB", c.String("sandbox-limit"))
	}
	eng.SetSandboxes(dir, limit) // created with the first sandbox

	eng.JobNodeLostAfter = c.Duration("job-node-lost-after")
	return nil
}
