package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/urfave/cli/v2"
	"go.temporal.io/sdk/client"
)

func serverCommand() *cli.Command {
	return &cli.Command{
		Name:  "server",
		Usage: "production role: REST API and worker against an external Temporal cluster and PostgreSQL; run several replicas",
		Flags: append([]cli.Flag{
			stringFlag("listen", "127.0.0.1:8080", "address of the REST API"),
			stringFlag("database", "", "postgres://user:pass@host:5432/db?sslmode=… (or a SQLite file for a single replica)"),
			stringFlag("temporal-address", "127.0.0.1:7233", "host:port of the Temporal frontend"),
			stringFlag("temporal-namespace", "default", "Temporal namespace"),
			&cli.BoolFlag{Name: "temporal-tls", Usage: "connect to Temporal with TLS", EnvVars: env("temporal-tls")},
			stringFlag("temporal-tls-ca", "", "PEM file of the CA that signed Temporal's certificate (default: system roots)"),
			stringFlag("temporal-tls-cert", "", "PEM client certificate for mutual TLS"),
			stringFlag("temporal-tls-key", "", "PEM client key for mutual TLS"),
			stringFlag("temporal-tls-server-name", "", "server name to verify in Temporal's certificate"),
			stringFlag("testbed", "", "HCL testbed description (default: the built-in testbed); a changed file becomes a new version"),
			&cli.StringFlag{Name: "agent-token", Usage: "bearer token of the gridflow agents of agent-driven clusters", EnvVars: []string{"GRIDFLOW_AGENT_TOKEN"}},
			stringFlag("admin-token", "", "bearer token of the built-in admin user"),
			stringFlag("sandbox-dir", "./.gridflow-sandboxes", "directory of grid job sandboxes (content-addressed archives); replicas must share it"),
		}, slices.Concat(transferFlags, jobFlags, logFlags)...),
		Action: runServer,
	}
}

func runServer(c *cli.Context) error {
	log := newLogger(c)
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if c.String("database") == "" {
		return errors.New("--database is required: a postgres:// URL shared by all replicas")
	}
	opts := client.Options{HostPort: c.String("temporal-address"), Namespace: c.String("temporal-namespace"), Logger: quietLogger(log)}
	if c.Bool("temporal-tls") || c.String("temporal-tls-ca") != "" || c.String("temporal-tls-cert") != "" {
		tc, err := temporalTLS(c)
		if err != nil {
			return err
		}
		opts.ConnectionOptions.TLS = tc
	}
	l, err := listen(c.String("listen"), "listen")
	if err != nil {
		return err
	}
	defer l.Close()
	r := &role{log: log, database: c.String("database"), testbedFile: c.String("testbed"),
		adminToken: c.String("admin-token"), agentToken: c.String("agent-token"), listener: l, temporal: opts}
	if r.storage, err = storagePolicy(c, ""); err != nil {
		return err
	}
	prep, err := r.prepare(ctx)
	if err != nil {
		return err
	}
	if err := configureJobs(c, prep.eng, absDir(c.String("sandbox-dir"))); err != nil {
		prep.st.Close()
		return err
	}
	run, err := r.start(ctx, prep)
	if err != nil {
		return err
	}
	defer run.shutdown()
	log.Info("gridflow server ready", "api", "http://"+l.Addr().String()+"/v1", "temporal", opts.HostPort,
		"namespace", opts.Namespace, "database", redact(r.database), "testbed_version", run.snap.Version.UID)
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

func temporalTLS(c *cli.Context) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.String("temporal-tls-server-name")}
	if ca := c.String("temporal-tls-ca"); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("read --temporal-tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--temporal-tls-ca %s holds no PEM certificate", ca)
		}
		cfg.RootCAs = pool
	}
	cert, key := c.String("temporal-tls-cert"), c.String("temporal-tls-key")
	if (cert == "") != (key == "") {
		return nil, errors.New("give both --temporal-tls-cert and --temporal-tls-key, or neither")
	}
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("load Temporal client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}
