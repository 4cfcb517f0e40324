package embedded

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync/atomic"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// slogCore is a zapcore.Core that hands the server's log entries to an slog.Handler,
// so the server logs through the caller's logger, at warn level and above.
type slogCore struct {
	zapcore.LevelEnabler
	h     slog.Handler
	attrs []slog.Attr
}

func (c *slogCore) With(fields []zapcore.Field) zapcore.Core {
	return &slogCore{
		LevelEnabler: c.LevelEnabler,
		h:            c.h,
		attrs:        append(append([]slog.Attr(nil), c.attrs...), fieldsToAttrs(fields)...),
	}
}

func (c *slogCore) Check(ent zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(ent.Level) {
		return ce.AddCore(ent, c)
	}
	return ce
}

func (c *slogCore) Write(ent zapcore.Entry, fields []zapcore.Field) error {
	lvl := slogLevel(ent.Level)
	if !c.h.Enabled(context.Background(), lvl) {
		return nil
	}
	r := slog.NewRecord(ent.Time, lvl, ent.Message, 0)
	r.AddAttrs(c.attrs...)
	r.AddAttrs(fieldsToAttrs(fields)...)
	return c.h.Handle(context.Background(), r)
}

func (c *slogCore) Sync() error { return nil }

func slogLevel(l zapcore.Level) slog.Level {
	switch {
	case l <= zapcore.DebugLevel:
		return slog.LevelDebug
	case l == zapcore.InfoLevel:
		return slog.LevelInfo
	case l == zapcore.WarnLevel:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}

func fieldsToAttrs(fields []zapcore.Field) []slog.Attr {
	if len(fields) == 0 {
		return nil
	}
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fields {
		f.AddTo(enc)
	}
	keys := make([]string, 0, len(enc.Fields))
	for k := range enc.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	attrs := make([]slog.Attr, 0, len(keys))
	for _, k := range keys {
		attrs = append(attrs, slog.Any(k, enc.Fields[k]))
	}
	return attrs
}

// fatalError is what a Fatal log of the server becomes while Start runs: a panic that
// Start recovers and returns as an error, instead of the process exiting.
type fatalError struct {
	msg    string
	fields map[string]any
}

func (e *fatalError) Error() string {
	return fmt.Sprintf("embedded temporal: server failed: %s %v", e.msg, e.fields)
}

// fatalHook replaces zap's os.Exit on Fatal. While starting is set it panics with a
// *fatalError (recovered by Start when it happens on Start's goroutine); afterwards it
// exits like zap does.
type fatalHook struct{ starting *atomic.Bool }

func (h fatalHook) OnWrite(ce *zapcore.CheckedEntry, fields []zapcore.Field) {
	if h.starting.Load() {
		enc := zapcore.NewMapObjectEncoder()
		for _, f := range fields {
			f.AddTo(enc)
		}
		panic(&fatalError{msg: ce.Message, fields: enc.Fields})
	}
	os.Exit(1)
}

// newServerZapLogger builds the zap logger given to the Temporal server: entries at
// level and above, written to logger's handler.
func newServerZapLogger(logger *slog.Logger, level zap.AtomicLevel, starting *atomic.Bool) *zap.Logger {
	core := &slogCore{
		LevelEnabler: level,
		h:            logger.Handler(),
		attrs:        []slog.Attr{slog.String("component", "temporal-server")},
	}
	return zap.New(core, zap.WithFatalHook(fatalHook{starting: starting}))
}

// minLevelHandler drops records below min; used to quiet the SDK client's logs.
type minLevelHandler struct {
	slog.Handler
	min slog.Level
}

func (h minLevelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevelHandler{Handler: h.Handler.WithAttrs(attrs), min: h.min}
}

func (h minLevelHandler) WithGroup(name string) slog.Handler {
	return minLevelHandler{Handler: h.Handler.WithGroup(name), min: h.min}
}
