package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gridflow/gridflow/engine/transfer/storage"
)

// env names the GRIDFLOW_* twin of a flag.
func env(flag string) []string {
	return []string{"GRIDFLOW_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))}
}

func stringFlag(name, value, usage string) *cli.StringFlag {
	return &cli.StringFlag{Name: name, Value: value, Usage: usage, EnvVars: env(name)}
}

var logFlags = []cli.Flag{
	stringFlag("log-level", "info", "debug, info, warn or error"),
	stringFlag("log-format", "text", "text or json"),
}

func newLogger(c *cli.Context) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.String("log-format") == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// transferFlags say which storage transfers may touch besides node storage.
var transferFlags = []cli.Flag{
	&cli.StringSliceFlag{Name: "transfer-root", EnvVars: []string{"GRIDFLOW_TRANSFER_ROOTS"},
		Usage: "directory that file:// transfer URLs may use (repeat, or comma-separate in the variable); dev adds DATA_DIR/files"},
	&cli.StringSliceFlag{Name: "transfer-http-host", EnvVars: []string{"GRIDFLOW_TRANSFER_HTTP_HOSTS"},
		Usage: "host, host:port, *.domain or * that http(s) transfer sources may come from (repeat; default: none)"},
}

// storagePolicy reads transferFlags; extraRoot, when set, is created and
// allowed too.
func storagePolicy(c *cli.Context, extraRoot string) (storage.Policy, error) {
	p := storage.Policy{HTTPHosts: c.StringSlice("transfer-http-host")}
	roots := c.StringSlice("transfer-root")
	if extraRoot != "" {
		if err := os.MkdirAll(extraRoot, 0o750); err != nil {
			return p, fmt.Errorf("create the transfer root %s: %w", extraRoot, err)
		}
		roots = append(roots, extraRoot)
	}
	for _, r := range roots {
		abs, err := filepath.Abs(r)
		if err != nil {
			return p, fmt.Errorf("--transfer-root %s: %w", r, err)
		}
		p.FileRoots = append(p.FileRoots, abs)
	}
	return p, nil
}
