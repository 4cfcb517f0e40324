package sched

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

var (
	// ErrBadRequest wraps every malformed input: missing id, unknown or closed
	// queue, non-positive walltime or count, empty node name, End not after
	// Start, duplicate allocation id, and so on. The message says which.
	ErrBadRequest = errors.New("bad scheduling request")
	// ErrStartInPast is an advance reservation whose Start is before now.
	ErrStartInPast = errors.New("reservation start is in the past")
	// ErrNotFound is an allocation id the Gantt does not hold.
	ErrNotFound = errors.New("allocation not found")
)

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, args...))
}

// NeverFitsError says a group can never be satisfied, whatever the time: it
// wants more nodes than it has up candidates (or, when groups share
// candidates, than the other groups leave it).
type NeverFitsError struct {
	Group      int // index in Request.Groups
	Wanted     int // the group's Count
	Matching   int // most nodes the group can ever get
	Candidates int // distinct candidates of the group
	Down       int // of which down
}

func (e *NeverFitsError) Error() string {
	msg := fmt.Sprintf("group %d wants %d nodes but only %d can ever match (%d candidates, %d down)",
		e.Group, e.Wanted, e.Matching, e.Candidates, e.Down)
	if e.Matching < e.Candidates-e.Down {
		msg += "; the other groups need the rest of its candidates"
	}
	return msg + ": ask for fewer nodes or widen the candidate filter"
}

// WalltimeError is a walltime, or an extension, beyond the queue's maximum.
type WalltimeError struct {
	Queue    Queue
	Walltime time.Duration // what was asked (for an extension: the new total)
	Max      time.Duration
}

func (e *WalltimeError) Error() string {
	return fmt.Sprintf("walltime %s exceeds the %s queue maximum of %s: ask for less or use another queue",
		e.Walltime, e.Queue, e.Max)
}

// ConflictError says the nodes are not free when needed. Two shapes:
//
//   - a placement at a fixed time (advance or besteffort): Group, Wanted and
//     Free tell how many of the group's up candidates are free over
//     [Start, End);
//   - an allocation that overlaps others (Add, Commit, Resize): Nodes are the
//     busy nodes and With the allocations holding them over [Start, End).
type ConflictError struct {
	ID         string // the request or allocation refused
	Start, End time.Time
	Group      int
	Wanted     int
	Free       int
	Nodes      []string
	With       []string
}

func (e *ConflictError) Error() string {
	window := fmt.Sprintf("[%s, %s)", e.Start.Format(time.RFC3339), e.End.Format(time.RFC3339))
	if len(e.With) > 0 {
		return fmt.Sprintf("%s: nodes %s are held by %s over %s",
			e.ID, strings.Join(e.Nodes, ","), strings.Join(e.With, ","), window)
	}
	if e.Free >= e.Wanted {
		return fmt.Sprintf("%s: group %d wants %d nodes over %s; %d of its candidates are free but the other groups need them",
			e.ID, e.Group, e.Wanted, window, e.Free)
	}
	return fmt.Sprintf("%s: group %d wants %d nodes over %s but only %d of its candidates are free then: pick another start or fewer nodes",
		e.ID, e.Group, e.Wanted, window, e.Free)
}
