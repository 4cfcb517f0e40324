package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/gridflow/gridflow/agent"
)

// agentFlag is a flag whose environment twin is GRIDFLOW_AGENT_<NAME>, so that
// an agent and a server on one machine do not read each other's settings.
func agentFlag(name, value, usage string) *cli.StringFlag {
	return &cli.StringFlag{Name: name, Value: value, Usage: usage, EnvVars: env("agent-" + name)}
}

func agentCommand() *cli.Command {
	return &cli.Command{
		Name:  "agent",
		Usage: "node agent: runs on a machine of an \"agent\" cluster and lets the engine act on it",
		Description: "Serves the agent API (see the agent package documentation): host facts, processes, files\n" +
			"with checksums, environment installs and reboots, and containers through Docker.\n" +
			"Every request needs \"Authorization: Bearer <token>\". Prefer GRIDFLOW_AGENT_TOKEN to --token:\n" +
			"a flag is visible to every user of the machine in the process list.",
		Flags: append([]cli.Flag{
			agentFlag("listen", "127.0.0.1:7070", "host:port to serve on (one loopback address per agent locally: 127.0.0.2:7070, …)"),
			agentFlag("data-dir", "./.gridflow-agent", "directory for files, environments, process output and state"),
			agentFlag("token", "", "bearer token the engine must send (required)"),
			agentFlag("tls-cert", "", "PEM certificate: serve HTTPS (with --tls-key)"),
			agentFlag("tls-key", "", "PEM private key of --tls-cert"),
			agentFlag("docker-host", "", "Docker Engine for containers, as unix:///var/run/docker.sock (default: no containers)"),
		}, logFlags...),
		Action: runAgent,
	}
}

func runAgent(c *cli.Context) error {
	cfg := agent.Config{
		Listen:     c.String("listen"),
		DataDir:    c.String("data-dir"),
		Token:      c.String("token"),
		TLSCert:    c.String("tls-cert"),
		TLSKey:     c.String("tls-key"),
		DockerHost: c.String("docker-host"),
		Logger:     newLogger(c),
	}
	if cfg.Token == "" {
		return errors.New("the agent needs a token: set GRIDFLOW_AGENT_TOKEN (or --token) to a secret the engine is configured with, e.g. the output of `openssl rand -hex 32`")
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return errors.New("give both --tls-cert and --tls-key, or neither")
	}
	if len(cfg.Token) < 16 {
		cfg.Logger.Warn("the agent token is short; use at least 16 random characters")
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("cannot listen on %s (%v): choose another address with --listen", cfg.Listen, errors.Unwrap(err))
	}
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	containers := "off (no --docker-host)"
	if cfg.DockerHost != "" {
		containers = "through " + cfg.DockerHost
	}
	w := c.App.Writer
	fmt.Fprintf(w, "gridflow agent serving %s://%s/v1\n", scheme, l.Addr())
	if abs, err := filepath.Abs(cfg.DataDir); err == nil {
		cfg.DataDir = abs
	}
	fmt.Fprintf(w, "  data directory  %s\n", cfg.DataDir)
	fmt.Fprintf(w, "  endpoints       info, reboot, environment, processes, reservations, files, containers\n")
	fmt.Fprintf(w, "  containers      %s\n", containers)
	fmt.Fprintf(w, "  try             curl -H \"Authorization: Bearer $GRIDFLOW_AGENT_TOKEN\" %s://%s/v1/info\n", scheme, l.Addr())
	return agent.Serve(ctx, l, cfg)
}
