package main

import (
	"log/slog"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
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
