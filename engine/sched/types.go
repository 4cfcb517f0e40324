package sched

import (
	"time"
)

// Queue is the OAR-like queue a reservation is submitted to.
type Queue string

// The queues, from highest to lowest priority.
const (
	QueueAdmin      Queue = "admin"
	QueueDefault    Queue = "default"
	QueueBestEffort Queue = "besteffort"
)

// Priority orders queues: admin 2, default 1, besteffort 0; an unknown queue
// is -1.
func (q Queue) Priority() int {
	switch q {
	case QueueAdmin:
		return 2
	case QueueDefault:
		return 1
	case QueueBestEffort:
		return 0
	}
	return -1
}

// Policy holds the site rules a placement must obey.
type Policy struct {
	// MaxWalltime is the longest walltime each queue accepts. A queue missing
	// from the map is closed (its requests are ErrBadRequest); zero or a
	// negative duration means no limit.
	MaxWalltime map[Queue]time.Duration
}

// DefaultPolicy is the policy of the built-in testbed: admin up to 7 days
// (maintenance windows), default up to 48 hours (a weekend experiment, the
// longest a shared testbed usually tolerates), besteffort up to 7 days (it is
// preempted whenever the nodes are needed, so a long walltime costs nobody).
func DefaultPolicy() Policy {
	return Policy{MaxWalltime: map[Queue]time.Duration{
		QueueAdmin:      7 * 24 * time.Hour,
		QueueDefault:    48 * time.Hour,
		QueueBestEffort: 7 * 24 * time.Hour,
	}}
}

// Group asks for Count distinct nodes among Candidates (node uids, already
// filtered by the caller on cluster and properties). The order of Candidates
// is the order of preference.
type Group struct {
	Count      int
	Candidates []string
}

// Request asks for nodes for Walltime.
type Request struct {
	ID       string // the reservation id; becomes the allocation id
	Queue    Queue
	Groups   []Group // each group gets its own nodes; at least one
	Walltime time.Duration
	// Start is the exact start of an advance reservation; zero means as soon
	// as possible. Besteffort requests always start now and must leave it zero.
	Start time.Time
}

// Allocation is a set of nodes held by one reservation over [Start, End).
// Times are kept to the nanosecond and returned in UTC; times the Gantt
// accepts lie between 1970 and 2200.
type Allocation struct {
	ID    string
	Queue Queue
	// Nodes in group order: the first Groups[0].Count belong to group 0, the
	// next Groups[1].Count to group 1, and so on.
	Nodes      []string
	Start, End time.Time
}

// Placement is Place's answer: the allocation to record and the besteffort
// allocations it preempts. Commit applies it.
type Placement struct {
	Allocation
	// Preempt lists, sorted, the besteffort allocations that overlap the new
	// one on its nodes; Commit ends them at Start.
	Preempt []string
}

// Decision is the outcome of one request of a Schedule batch: a committed
// Placement, or the error that refused the request.
type Decision struct {
	Placement Placement
	Err       error
}
