package hw

import (
	"context"
	"errors"
	"fmt"
)

// Kind classifies an error. A Kind is itself an error, so that
// errors.Is(err, hw.NotFound) tests the kind of a wrapped *Error.
type Kind string

func (k Kind) Error() string { return string(k) }

// Error kinds.
const (
	// Unavailable: the node cannot be reached or is busy (booting,
	// deploying, marked down). Retryable.
	Unavailable Kind = "unavailable"
	// NotFound: no such node, process, file or container.
	NotFound Kind = "not found"
	// Invalid: the request is wrong (a bad path, id, checksum syntax…).
	Invalid Kind = "invalid"
	// Conflict: an id is used by something else, or the target is of
	// another type (a directory where a file is expected).
	Conflict Kind = "conflict"
	// Exists: the file exists and the call must not replace it.
	Exists Kind = "exists"
	// ChecksumMismatch: bytes do not have the expected checksum.
	ChecksumMismatch Kind = "checksum mismatch"
	// Forbidden: the node refuses (a path leading out of its file area).
	Forbidden Kind = "forbidden"
	// Unauthorized: the node does not accept the engine's credentials.
	Unauthorized Kind = "unauthorized"
	// Unsupported: the node cannot do this (no container runtime, a driver
	// kind without implementation).
	Unsupported Kind = "unsupported"
	// Failed: the operation failed on the node (a program that cannot
	// start, an injected fault of a simulated node).
	Failed Kind = "failed"
	// Internal: the node erred. Retryable.
	Internal Kind = "internal"
)

// Error is a classed hardware error.
type Error struct {
	Op        string // "reboot", "put file", …
	Node      string
	Kind      Kind
	Retryable bool
	Err       error
}

func (e *Error) Error() string {
	msg := string(e.Kind)
	if e.Err != nil {
		msg = e.Err.Error()
	}
	if e.Node == "" {
		return fmt.Sprintf("%s: %s", e.Op, msg)
	}
	return fmt.Sprintf("%s on %s: %s", e.Op, e.Node, msg)
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, kind) true for an *Error of that kind.
func (e *Error) Is(target error) bool {
	k, ok := target.(Kind)
	return ok && k == e.Kind
}

// Errorf builds an *Error whose retryability follows its kind: Unavailable
// and Internal are retryable, the others are not.
func Errorf(op, node string, kind Kind, format string, args ...any) *Error {
	return &Error{Op: op, Node: node, Kind: kind, Retryable: kind == Unavailable || kind == Internal, Err: fmt.Errorf(format, args...)}
}

// Retryable reports whether trying the call again may succeed. An error the
// drivers did not class is taken as transient; a cancelled or expired
// context is not retried by this answer (the caller decides).
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Retryable
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return true
}

// KindOf returns the kind of err, or "" when it has none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}
