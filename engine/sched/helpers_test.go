package sched

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// t0 is "now" in the table tests.
var t0 = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

const h = time.Hour

func alloc_(id string, q Queue, from, to time.Duration, nodes ...string) Allocation {
	return Allocation{ID: id, Queue: q, Nodes: nodes, Start: at(from), End: at(to)}
}

func def(id string, from, to time.Duration, nodes ...string) Allocation {
	return alloc_(id, QueueDefault, from, to, nodes...)
}

func bef(id string, from, to time.Duration, nodes ...string) Allocation {
	return alloc_(id, QueueBestEffort, from, to, nodes...)
}

func grp1(count int, cands ...string) []Group { return []Group{{Count: count, Candidates: cands}} }

func newGantt(t testing.TB, allocs ...Allocation) *Gantt {
	t.Helper()
	g := NewGantt()
	for _, a := range allocs {
		if err := g.Add(a); err != nil {
			t.Fatalf("Add(%s): %v", a.ID, err)
		}
	}
	if err := g.Check(); err != nil {
		t.Fatal(err)
	}
	return g
}

// errCheck describes an expected error; nil means success is expected.
type errCheck func(error) string

func isErr(target error) errCheck {
	return func(err error) string {
		if !errors.Is(err, target) {
			return fmt.Sprintf("want %v, got %v", target, err)
		}
		return ""
	}
}

func neverFits(group, wanted, matching, cands, down int) errCheck {
	return func(err error) string {
		var e *NeverFitsError
		if !errors.As(err, &e) {
			return fmt.Sprintf("want *NeverFitsError, got %v", err)
		}
		want := NeverFitsError{Group: group, Wanted: wanted, Matching: matching, Candidates: cands, Down: down}
		if *e != want {
			return fmt.Sprintf("want %+v, got %+v", want, *e)
		}
		return ""
	}
}

func conflictAt(group, wanted, free int) errCheck {
	return func(err error) string {
		var e *ConflictError
		if !errors.As(err, &e) {
			return fmt.Sprintf("want *ConflictError, got %v", err)
		}
		if e.Group != group || e.Wanted != wanted || e.Free != free {
			return fmt.Sprintf("want group %d wanted %d free %d, got %+v", group, wanted, free, *e)
		}
		return ""
	}
}

func conflictWith(nodes []string, with ...string) errCheck {
	return func(err error) string {
		var e *ConflictError
		if !errors.As(err, &e) {
			return fmt.Sprintf("want *ConflictError, got %v", err)
		}
		if !slices.Equal(e.Nodes, nodes) || !slices.Equal(e.With, with) {
			return fmt.Sprintf("want nodes %v with %v, got %+v", nodes, with, *e)
		}
		return ""
	}
}

func walltimeErr(q Queue, max time.Duration) errCheck {
	return func(err error) string {
		var e *WalltimeError
		if !errors.As(err, &e) {
			return fmt.Sprintf("want *WalltimeError, got %v", err)
		}
		if e.Queue != q || e.Max != max {
			return fmt.Sprintf("want queue %s max %s, got %+v", q, max, *e)
		}
		return ""
	}
}

func expectErr(t *testing.T, err error, want errCheck) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatal("expected an error, got none")
	}
	if msg := want(err); msg != "" {
		t.Fatal(msg)
	}
	if err.Error() == "" {
		t.Fatal("empty error message")
	}
}

// snapshot captures the Gantt's allocations to prove a failed call changed nothing.
func snapshot(g *Gantt) string { return g.String() }
