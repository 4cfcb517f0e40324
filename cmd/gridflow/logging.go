package main

import (
	"context"
	"log/slog"

	sdklog "go.temporal.io/sdk/log"
)

// quietLogger keeps the SDK's chatty info lines (worker started, …) out of the
// console; warnings and errors still show.
func quietLogger(l *slog.Logger) sdklog.Logger {
	return sdklog.NewStructuredLogger(slog.New(levelFloor{l.Handler(), slog.LevelWarn}))
}

type levelFloor struct {
	slog.Handler
	min slog.Level
}

func (h levelFloor) Enabled(_ context.Context, l slog.Level) bool { return l >= h.min }

func (h levelFloor) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFloor{h.Handler.WithAttrs(a), h.min}
}

func (h levelFloor) WithGroup(name string) slog.Handler {
	return levelFloor{h.Handler.WithGroup(name), h.min}
}
