package storage

import (
	"context"
	"errors"
	"fmt"

	"github.com/gridflow/gridflow/engine/hw"
)

// Kinds of refusal, for errors.Is. IsInvalid and IsForbidden test them.
var (
	// ErrInvalid: a URL or an option is malformed (HTTP 422).
	ErrInvalid = errors.New("invalid")
	// ErrForbidden: a well-formed URL the policy refuses (HTTP 403).
	ErrForbidden = errors.New("forbidden")
	// ErrNotFound: the file is not there (a missing source, a Stat of
	// nothing).
	ErrNotFound = errors.New("not found")
	// ErrExists: the destination exists and the copy must not replace it.
	// A retried copy whose earlier attempt committed sees it too: compare
	// Stat of the destination with the expected checksum to tell.
	ErrExists = errors.New("destination exists")
)

// Error is a refusal of a URL or an option before any byte moves.
type Error struct {
	Subject string // the URL (without credentials) or option refused
	Kind    error  // ErrInvalid or ErrForbidden
	Reason  string // what is wrong and how to fix it
}

func (e *Error) Error() string {
	if e.Subject == "" {
		return e.Reason
	}
	return fmt.Sprintf("%s: %s", e.Subject, e.Reason)
}

// Is makes errors.Is(err, ErrInvalid) and errors.Is(err, ErrForbidden) work.
func (e *Error) Is(target error) bool { return target == e.Kind }

func invalidf(subject, format string, args ...any) *Error {
	return &Error{Subject: subject, Kind: ErrInvalid, Reason: fmt.Sprintf(format, args...)}
}

func forbiddenf(subject, format string, args ...any) *Error {
	return &Error{Subject: subject, Kind: ErrForbidden, Reason: fmt.Sprintf(format, args...)}
}

// IsInvalid reports whether err refuses a malformed URL or option (HTTP 422).
func IsInvalid(err error) bool { return errors.Is(err, ErrInvalid) }

// IsForbidden reports whether err is a policy refusal (HTTP 403).
func IsForbidden(err error) bool { return errors.Is(err, ErrForbidden) }

// Phases of a copy, for CopyError.Phase.
const (
	// PhaseSource: no source could be opened, or every source failed (the
	// phase of a Stat error too).
	PhaseSource = "source"
	// PhaseTransfer: the stream broke while bytes moved (network, a stall,
	// a source that changed, cancellation).
	PhaseTransfer = "transfer"
	// PhaseVerify: sizes or checksums disagree.
	PhaseVerify = "verify"
	// PhaseDestination: the destination refused or failed (it exists, no
	// space, no permission; the phase of a Remove error too).
	PhaseDestination = "destination"
)

// CopyError is why a Copy (or Stat, Remove) failed.
type CopyError struct {
	Phase string
	// Reason is a self-contained sentence for the file's state in the job:
	// what failed, on which URL, and, for the user's mistakes, how to fix
	// them.
	Reason string
	// Retryable says whether trying the same copy again may succeed.
	Retryable bool
	// Attempts lists every source tried, in order, when sources failed.
	Attempts []SourceError
	// Err is the underlying cause (an *Error, an hw error, a context
	// error…), for errors.Is and errors.As.
	Err error
}

func (e *CopyError) Error() string { return e.Phase + ": " + e.Reason }

func (e *CopyError) Unwrap() error { return e.Err }

// SourceError is the failure of one source of a copy.
type SourceError struct {
	Source    string `json:"source"`
	Reason    string `json:"reason"`
	Retryable bool   `json:"retryable"`
}

// Retryable reports whether trying again may succeed: the field of a
// *CopyError, false for refusals (*Error) and ended contexts, hw.Retryable
// for the rest.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var ce *CopyError
	if errors.As(err, &ce) {
		return ce.Retryable
	}
	var e *Error
	if errors.As(err, &e) {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return hw.Retryable(err)
}
