package sched

import (
	"slices"
	"testing"
	"time"
)

func TestPlace(t *testing.T) {
	cl := []string{"a1", "a2", "a3"}
	tests := []struct {
		name    string
		setup   []Allocation
		down    []string
		pol     *Policy
		req     Request
		want    errCheck
		start   time.Duration
		nodes   []string
		preempt []string
	}{
		// First fit.
		{name: "empty testbed starts now in candidate order",
			req:   Request{Groups: grp1(2, cl...), Walltime: h},
			start: 0, nodes: []string{"a1", "a2"}},
		{name: "candidate order is the preference",
			req:   Request{Groups: grp1(2, "a3", "a1", "a2"), Walltime: h},
			start: 0, nodes: []string{"a3", "a1"}},
		{name: "waits for enough nodes",
			setup: []Allocation{def("x", 0, 2*h, "a1", "a2")},
			req:   Request{Groups: grp1(2, cl...), Walltime: h},
			start: 2 * h, nodes: []string{"a1", "a2"}},
		{name: "earliest time among staggered ends",
			setup: []Allocation{def("x", 0, 1*h, "a1"), def("y", 0, 3*h, "a2"), def("z", 0, 2*h, "a3")},
			req:   Request{Groups: grp1(2, cl...), Walltime: h},
			start: 2 * h, nodes: []string{"a1", "a3"}},
		{name: "exclusive end: starts exactly when the previous ends",
			setup: []Allocation{def("x", -h, h, "a1")},
			req:   Request{Groups: grp1(1, "a1"), Walltime: h},
			start: h, nodes: []string{"a1"}},
		{name: "past allocations do not block",
			setup: []Allocation{def("x", -3*h, -h, "a1")},
			req:   Request{Groups: grp1(1, "a1"), Walltime: h},
			start: 0, nodes: []string{"a1"}},
		{name: "backfills a gap of exactly the walltime",
			setup: []Allocation{def("x", 0, h, "a1", "a2"), def("y", 3*h, 5*h, "a1", "a2")},
			req:   Request{Groups: grp1(2, "a1", "a2"), Walltime: 2 * h},
			start: h, nodes: []string{"a1", "a2"}},
		{name: "skips a gap one nanosecond too short",
			setup: []Allocation{def("x", 0, h, "a1", "a2"), def("y", 3*h, 5*h, "a1", "a2")},
			req:   Request{Groups: grp1(2, "a1", "a2"), Walltime: 2*h + 1},
			start: 5 * h, nodes: []string{"a1", "a2"}},
		{name: "gap must be free on enough nodes at once",
			setup: []Allocation{def("x", 0, h, "a1"), def("y", 2*h, 4*h, "a1"), def("z", 0, 3*h, "a2")},
			req:   Request{Groups: grp1(2, "a1", "a2"), Walltime: h},
			start: 4 * h, nodes: []string{"a1", "a2"}},
		{name: "uses the node whose gap fits",
			setup: []Allocation{def("x", 0, h, "a1"), def("y", 2*h, 4*h, "a1"), def("z", 0, 3*h, "a2")},
			req:   Request{Groups: grp1(1, "a1", "a2"), Walltime: h},
			start: h, nodes: []string{"a1"}},

		{name: "a window ending exactly at the start is not free (exclusive end)",
			// a1 can start in [0, 1h+1ns) only, then from 3h; a2 and a3 from 1h+1ns.
			setup: []Allocation{def("x", 2*h, 3*h, "a1"), def("y", 0, h+1, "a2", "a3")},
			req:   Request{Groups: grp1(2, "a1", "a2", "a3"), Walltime: h},
			start: h + 1, nodes: []string{"a2", "a3"}},
		{name: "node choice past a group's own horizon keeps candidate order",
			// Group a alone could start at 1h (on a2); group b makes it 3h,
			// when a1, first in order, is free too.
			setup: []Allocation{def("x", 0, 2*h, "a1"), def("y", 0, h, "a2"), def("z", 0, 3*h, "b1")},
			req:   Request{Groups: []Group{{Count: 1, Candidates: []string{"a1", "a2"}}, {Count: 1, Candidates: []string{"b1"}}}, Walltime: h},
			start: 3 * h, nodes: []string{"a1", "b1"}},

		// Advance reservations.
		{name: "advance on free nodes",
			req:   Request{Groups: grp1(1, cl...), Walltime: h, Start: at(5 * h)},
			start: 5 * h, nodes: []string{"a1"}},
		{name: "advance starting now",
			req:   Request{Groups: grp1(1, cl...), Walltime: h, Start: at(0)},
			start: 0, nodes: []string{"a1"}},
		{name: "advance ending exactly when the next starts",
			setup: []Allocation{def("x", 3*h, 4*h, "a1")},
			req:   Request{Groups: grp1(1, "a1"), Walltime: h, Start: at(2 * h)},
			start: 2 * h, nodes: []string{"a1"}},
		{name: "advance starting exactly when the previous ends",
			setup: []Allocation{def("x", 0, 2*h, "a1")},
			req:   Request{Groups: grp1(1, "a1"), Walltime: h, Start: at(2 * h)},
			start: 2 * h, nodes: []string{"a1"}},
		{name: "advance one nanosecond into the next",
			setup: []Allocation{def("x", 3*h, 4*h, "a1")},
			req:   Request{Groups: grp1(1, "a1"), Walltime: h + 1, Start: at(2 * h)},
			want:  conflictAt(0, 1, 0)},
		{name: "advance does not move: conflict says how many are free",
			setup: []Allocation{def("x", 0, 3*h, "a1", "a2")},
			req:   Request{Groups: grp1(2, cl...), Walltime: h, Start: at(2 * h)},
			want:  conflictAt(0, 2, 1)},
		{name: "advance in the past",
			req:  Request{Groups: grp1(1, cl...), Walltime: h, Start: at(-time.Second)},
			want: isErr(ErrStartInPast)},

		// Groups.
		{name: "two groups on two clusters",
			req:   Request{Groups: []Group{{Count: 2, Candidates: cl}, {Count: 1, Candidates: []string{"b1", "b2"}}}, Walltime: h},
			start: 0, nodes: []string{"a1", "a2", "b1"}},
		{name: "groups start together",
			setup: []Allocation{def("x", 0, 3*h, "b1", "b2")},
			req:   Request{Groups: []Group{{Count: 2, Candidates: cl}, {Count: 1, Candidates: []string{"b1", "b2"}}}, Walltime: h},
			start: 3 * h, nodes: []string{"a1", "a2", "b1"}},
		{name: "windows of the groups intersect",
			// Group a only fits at 0 (gap [0,2h)) or from 10h; group b from 1h.
			setup: []Allocation{def("x", 2*h, 10*h, "a1"), def("y", 0, h, "b1")},
			req:   Request{Groups: []Group{{Count: 1, Candidates: []string{"a1"}}, {Count: 1, Candidates: []string{"b1"}}}, Walltime: 2 * h},
			start: 10 * h, nodes: []string{"a1", "b1"}},
		{name: "advance with groups fails on the short group",
			setup: []Allocation{def("x", 0, 3*h, "b1")},
			req:   Request{Groups: []Group{{Count: 2, Candidates: cl}, {Count: 2, Candidates: []string{"b1", "b2"}}}, Walltime: h, Start: at(h)},
			want:  conflictAt(1, 2, 1)},
		{name: "shared candidates are matched, not grabbed greedily",
			req:   Request{Groups: []Group{{Count: 1, Candidates: []string{"n1", "n2"}}, {Count: 1, Candidates: []string{"n1"}}}, Walltime: h},
			start: 0, nodes: []string{"n2", "n1"}},
		{name: "shared candidates wait until the matching exists",
			setup: []Allocation{def("x", 0, h, "n1")},
			req:   Request{Groups: []Group{{Count: 1, Candidates: []string{"n1", "n2"}}, {Count: 1, Candidates: []string{"n2"}}}, Walltime: h},
			start: h, nodes: []string{"n1", "n2"}},
		{name: "shared candidates that can never be matched",
			req:  Request{Groups: []Group{{Count: 2, Candidates: []string{"n1", "n2"}}, {Count: 1, Candidates: []string{"n2", "n1"}}}, Walltime: h},
			want: neverFits(1, 1, 0, 2, 0)},
		{name: "many groups sharing candidates wait for a matching",
			// Five groups of one node among the same five: all must be free.
			setup: []Allocation{def("x1", 0, h, "n1"), def("x2", 0, 2*h, "n2"), def("x3", 0, 3*h, "n3"), def("x4", 0, 4*h, "n4"), def("x5", 0, 5*h, "n5")},
			req: Request{Groups: []Group{
				{Count: 1, Candidates: []string{"n1", "n2", "n3", "n4", "n5"}}, {Count: 1, Candidates: []string{"n1", "n2", "n3", "n4", "n5"}},
				{Count: 1, Candidates: []string{"n1", "n2", "n3", "n4", "n5"}}, {Count: 1, Candidates: []string{"n1", "n2", "n3", "n4", "n5"}},
				{Count: 1, Candidates: []string{"n5", "n4", "n3", "n2", "n1"}}}, Walltime: h},
			start: 5 * h, nodes: []string{"n1", "n2", "n3", "n4", "n5"}},
		{name: "more nodes than candidates",
			req:  Request{Groups: []Group{{Count: 1, Candidates: cl}, {Count: 3, Candidates: []string{"b1", "b2"}}}, Walltime: h},
			want: neverFits(1, 3, 2, 2, 0)},
		{name: "duplicate candidates count once",
			req:  Request{Groups: grp1(2, "a1", "a1"), Walltime: h},
			want: neverFits(0, 2, 1, 1, 0)},
		{name: "no candidates at all",
			req:  Request{Groups: grp1(1), Walltime: h},
			want: neverFits(0, 1, 0, 0, 0)},

		// Down nodes.
		{name: "down nodes are skipped",
			down:  []string{"a1"},
			req:   Request{Groups: grp1(2, cl...), Walltime: h},
			start: 0, nodes: []string{"a2", "a3"}},
		{name: "a free down node is not a reason to start early",
			down:  []string{"a1"},
			setup: []Allocation{def("x", 0, 2*h, "a2")},
			req:   Request{Groups: grp1(1, "a1", "a2"), Walltime: h},
			start: 2 * h, nodes: []string{"a2"}},
		{name: "all candidates down never fits",
			down: []string{"a1", "a2"},
			req:  Request{Groups: grp1(1, "a1", "a2"), Walltime: h},
			want: neverFits(0, 1, 0, 2, 2)},
		{name: "down nodes for an advance reservation",
			down:  []string{"a1", "a2"},
			req:   Request{Groups: grp1(1, cl...), Walltime: h, Start: at(h)},
			start: h, nodes: []string{"a3"}},

		// Queue limits and bad requests.
		{name: "default walltime over 48h",
			req:  Request{Groups: grp1(1, cl...), Walltime: 48*h + 1},
			want: walltimeErr(QueueDefault, 48*h)},
		{name: "default walltime of exactly 48h",
			req:   Request{Groups: grp1(1, cl...), Walltime: 48 * h},
			start: 0, nodes: []string{"a1"}},
		{name: "admin may run longer",
			req:   Request{Queue: QueueAdmin, Groups: grp1(1, cl...), Walltime: 100 * h},
			start: 0, nodes: []string{"a1"}},
		{name: "admin over 7 days",
			req:  Request{Queue: QueueAdmin, Groups: grp1(1, cl...), Walltime: 7*24*h + 1},
			want: walltimeErr(QueueAdmin, 7*24*h)},
		{name: "besteffort over 7 days",
			req:  Request{Queue: QueueBestEffort, Groups: grp1(1, cl...), Walltime: 8 * 24 * h},
			want: walltimeErr(QueueBestEffort, 7*24*h)},
		{name: "zero limit is unlimited",
			pol:   &Policy{MaxWalltime: map[Queue]time.Duration{QueueDefault: 0}},
			req:   Request{Groups: grp1(1, cl...), Walltime: 1000 * h},
			start: 0, nodes: []string{"a1"}},
		{name: "queue closed by the policy",
			pol:  &Policy{MaxWalltime: map[Queue]time.Duration{QueueAdmin: h}},
			req:  Request{Groups: grp1(1, cl...), Walltime: h},
			want: isErr(ErrBadRequest)},
		{name: "unknown queue",
			req:  Request{Queue: "production", Groups: grp1(1, cl...), Walltime: h},
			want: isErr(ErrBadRequest)},
		{name: "zero walltime", req: Request{Groups: grp1(1, cl...)}, want: isErr(ErrBadRequest)},
		{name: "zero count", req: Request{Groups: grp1(0, cl...), Walltime: h}, want: isErr(ErrBadRequest)},
		{name: "no groups", req: Request{Walltime: h}, want: isErr(ErrBadRequest)},
		{name: "empty node uid", req: Request{Groups: grp1(1, "a1", ""), Walltime: h}, want: isErr(ErrBadRequest)},
		{name: "id already allocated",
			setup: []Allocation{def("r", 0, h, "a3")},
			req:   Request{Groups: grp1(1, cl...), Walltime: h},
			want:  isErr(ErrBadRequest)},
		{name: "besteffort with a start time",
			req:  Request{Queue: QueueBestEffort, Groups: grp1(1, cl...), Walltime: h, Start: at(h)},
			want: isErr(ErrBadRequest)},

		// Besteffort.
		{name: "besteffort runs on idle nodes now",
			setup: []Allocation{def("x", 0, 5*h, "a1")},
			req:   Request{Queue: QueueBestEffort, Groups: grp1(2, cl...), Walltime: h},
			start: 0, nodes: []string{"a2", "a3"}},
		{name: "besteffort does not wait",
			setup: []Allocation{def("x", 0, 5*h, "a1", "a2")},
			req:   Request{Queue: QueueBestEffort, Groups: grp1(2, cl...), Walltime: h},
			want:  conflictAt(0, 2, 1)},
		{name: "besteffort needs its whole window idle",
			setup: []Allocation{def("x", h, 2*h, "a1")},
			req:   Request{Queue: QueueBestEffort, Groups: grp1(1, "a1"), Walltime: h + 1},
			want:  conflictAt(0, 1, 0)},
		{name: "besteffort fits exactly before a reservation",
			setup: []Allocation{def("x", h, 2*h, "a1")},
			req:   Request{Queue: QueueBestEffort, Groups: grp1(1, "a1"), Walltime: h},
			start: 0, nodes: []string{"a1"}},
		{name: "besteffort never preempts besteffort",
			setup: []Allocation{bef("x", -h, 5*h, "a1")},
			req:   Request{Queue: QueueBestEffort, Groups: grp1(1, "a1"), Walltime: h},
			want:  conflictAt(0, 1, 0)},
		{name: "default preempts besteffort",
			setup: []Allocation{bef("x", -h, 5*h, "a1")},
			req:   Request{Groups: grp1(1, "a1"), Walltime: h},
			start: 0, nodes: []string{"a1"}, preempt: []string{"x"}},
		{name: "admin preempts besteffort",
			setup: []Allocation{bef("x", -h, 5*h, "a1"), bef("y", 0, 5*h, "a2")},
			req:   Request{Queue: QueueAdmin, Groups: grp1(2, "a1", "a2"), Walltime: h},
			start: 0, nodes: []string{"a1", "a2"}, preempt: []string{"x", "y"}},
		{name: "idle nodes are preferred to preemption",
			setup: []Allocation{bef("x", -h, 5*h, "a1")},
			req:   Request{Groups: grp1(2, cl...), Walltime: h},
			start: 0, nodes: []string{"a2", "a3"}},
		{name: "preempts only what it needs",
			setup: []Allocation{bef("x", -h, 5*h, "a1"), bef("y", -h, 5*h, "a2")},
			req:   Request{Groups: grp1(2, cl...), Walltime: h},
			start: 0, nodes: []string{"a3", "a1"}, preempt: []string{"x"}},
		{name: "besteffort does not delay a default request",
			setup: []Allocation{def("d", 0, h, "a1"), bef("x", 0, 9*h, "a2")},
			req:   Request{Groups: grp1(2, "a1", "a2"), Walltime: h},
			start: h, nodes: []string{"a1", "a2"}, preempt: []string{"x"}},
		{name: "advance reservation preempts besteffort",
			setup: []Allocation{bef("x", -h, 5*h, "a1")},
			req:   Request{Groups: grp1(1, "a1"), Walltime: h, Start: at(3 * h)},
			start: 3 * h, nodes: []string{"a1"}, preempt: []string{"x"}},
		{name: "besteffort preemption with shared-candidate groups",
			setup: []Allocation{bef("x", -h, 5*h, "n1")},
			req:   Request{Groups: []Group{{Count: 1, Candidates: []string{"n1", "n2"}}, {Count: 1, Candidates: []string{"n2"}}}, Walltime: h},
			start: 0, nodes: []string{"n1", "n2"}, preempt: []string{"x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newGantt(t, tc.setup...)
			for _, n := range tc.down {
				g.SetDown(n, true)
			}
			pol := DefaultPolicy()
			if tc.pol != nil {
				pol = *tc.pol
			}
			req := tc.req
			req.ID = "r"
			if req.Queue == "" {
				req.Queue = QueueDefault
			}
			before := snapshot(g)
			p, err := g.Place(req, t0, pol)
			if snapshot(g) != before {
				t.Fatalf("Place changed the Gantt:\n%s", g)
			}
			expectErr(t, err, tc.want)
			if tc.want != nil {
				return
			}
			if !p.Start.Equal(at(tc.start)) || !p.End.Equal(p.Start.Add(req.Walltime)) {
				t.Errorf("placed at [%s, %s), want start %s", p.Start, p.End, at(tc.start))
			}
			if !slices.Equal(p.Nodes, tc.nodes) {
				t.Errorf("nodes %v, want %v", p.Nodes, tc.nodes)
			}
			if !slices.Equal(p.Preempt, tc.preempt) {
				t.Errorf("preempt %v, want %v", p.Preempt, tc.preempt)
			}
			if p.ID != "r" || p.Queue != req.Queue {
				t.Errorf("placement identity %s/%s", p.ID, p.Queue)
			}
			if err := g.Commit(p); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			if err := g.Check(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestCommitEndsPreemptedBesteffort(t *testing.T) {
	tests := []struct {
		name    string
		be      Allocation
		req     Request
		wantEnd time.Duration // where the besteffort allocation ends; <0 removed
	}{
		{name: "running besteffort ends now",
			be:  bef("x", -h, 5*h, "a1", "a2"),
			req: Request{Groups: grp1(1, "a1"), Walltime: h}, wantEnd: 0},
		{name: "besteffort keeps running until an advance reservation starts",
			be:  bef("x", -h, 5*h, "a1"),
			req: Request{Groups: grp1(1, "a1"), Walltime: h, Start: at(3 * h)}, wantEnd: 3 * h},
		{name: "besteffort that would start after the reservation is removed",
			be:  bef("x", h, 2*h, "a1"),
			req: Request{Groups: grp1(1, "a1"), Walltime: 3 * h}, wantEnd: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newGantt(t, tc.be)
			tc.req.ID, tc.req.Queue = "r", QueueDefault
			p, err := g.Place(tc.req, t0, DefaultPolicy())
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.Preempt, []string{"x"}) {
				t.Fatalf("preempt %v", p.Preempt)
			}
			if err := g.Commit(p); err != nil {
				t.Fatal(err)
			}
			if err := g.Check(); err != nil {
				t.Fatal(err)
			}
			x, ok := g.Allocation("x")
			if tc.wantEnd < 0 {
				if ok {
					t.Fatalf("besteffort still there: %+v", x)
				}
				return
			}
			if !ok || !x.End.Equal(at(tc.wantEnd)) {
				t.Fatalf("besteffort now %+v, want end %s", x, at(tc.wantEnd))
			}
		})
	}
}

func TestCommitRechecks(t *testing.T) {
	g := newGantt(t)
	p, err := g.Place(Request{ID: "r", Queue: QueueDefault, Groups: grp1(1, "a1"), Walltime: h}, t0, DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Add(def("late", 0, h, "a1")); err != nil {
		t.Fatal(err)
	}
	before := snapshot(g)
	expectErr(t, g.Commit(p), conflictWith([]string{"a1"}, "late"))
	if snapshot(g) != before {
		t.Fatal("failed Commit changed the Gantt")
	}

	// A Preempt list naming a non-besteffort allocation is refused, atomically.
	p.Preempt = []string{"late"}
	expectErr(t, g.Commit(p), isErr(ErrBadRequest))
	if snapshot(g) != before {
		t.Fatal("failed Commit changed the Gantt")
	}

	// A besteffort allocation listed but not in the way is left alone.
	if err := g.Add(bef("far", 5*h, 6*h, "a1")); err != nil {
		t.Fatal(err)
	}
	p2, err := g.Place(Request{ID: "r2", Queue: QueueDefault, Groups: grp1(1, "a2"), Walltime: h}, t0, DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	p2.Preempt = []string{"far"}
	if err := g.Commit(p2); err != nil {
		t.Fatal(err)
	}
	if far, ok := g.Allocation("far"); !ok || !far.End.Equal(at(6*h)) {
		t.Fatalf("unrelated besteffort changed: %+v", far)
	}
}

func TestAdd(t *testing.T) {
	tests := []struct {
		name string
		a    Allocation
		want errCheck
	}{
		{name: "overlap is refused", a: def("n", 30*time.Minute, 2*h, "b1", "a1"), want: conflictWith([]string{"a1"}, "x")},
		{name: "overlap with besteffort is refused too", a: def("n", 2*h, 4*h, "a2"), want: conflictWith([]string{"a2"}, "y")},
		{name: "adjacent after", a: def("n", h, 2*h, "a1")},
		{name: "adjacent before", a: def("n", -h, 0, "a1")},
		{name: "on a down node", a: def("n", 5*h, 6*h, "d1")},
		{name: "duplicate id", a: def("x", 5*h, 6*h, "b1"), want: isErr(ErrBadRequest)},
		{name: "node twice", a: def("n", 5*h, 6*h, "b1", "b1"), want: isErr(ErrBadRequest)},
		{name: "end before start", a: def("n", 6*h, 5*h, "b1"), want: isErr(ErrBadRequest)},
		{name: "empty interval", a: def("n", 5*h, 5*h, "b1"), want: isErr(ErrBadRequest)},
		{name: "no nodes", a: def("n", 5*h, 6*h), want: isErr(ErrBadRequest)},
		{name: "empty node", a: def("n", 5*h, 6*h, ""), want: isErr(ErrBadRequest)},
		{name: "no id", a: def("", 5*h, 6*h, "b1"), want: isErr(ErrBadRequest)},
		{name: "unknown queue", a: alloc_("n", "nope", 5*h, 6*h, "b1"), want: isErr(ErrBadRequest)},
		{name: "zero time", a: Allocation{ID: "n", Queue: QueueDefault, Nodes: []string{"b1"}, End: t0}, want: isErr(ErrBadRequest)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newGantt(t, def("x", 0, h, "a1"), bef("y", 3*h, 5*h, "a2"))
			g.SetDown("d1", true)
			before := snapshot(g)
			err := g.Add(tc.a)
			expectErr(t, err, tc.want)
			if tc.want != nil && snapshot(g) != before {
				t.Fatal("failed Add changed the Gantt")
			}
			if err := g.Check(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestResize(t *testing.T) {
	tests := []struct {
		name     string
		setup    []Allocation
		id       string
		newEnd   time.Duration
		want     errCheck
		preempt  []string
		removed  []string
		finalEnd time.Duration
	}{
		{name: "extend into free time", setup: []Allocation{def("r", 0, h, "a1", "a2")}, id: "r", newEnd: 3 * h, finalEnd: 3 * h},
		{name: "extend exactly to the next reservation",
			setup: []Allocation{def("r", 0, h, "a1", "a2"), def("n", 3*h, 4*h, "a2")}, id: "r", newEnd: 3 * h, finalEnd: 3 * h},
		{name: "extend one nanosecond into the next",
			setup: []Allocation{def("r", 0, h, "a1", "a2"), def("n", 3*h, 4*h, "a2"), def("m", 5*h, 6*h, "a1")},
			id:    "r", newEnd: 3*h + 1, want: conflictWith([]string{"a2"}, "n"), finalEnd: h},
		{name: "conflict names every blocking allocation",
			setup: []Allocation{def("r", 0, h, "a1", "a2"), def("n", 3*h, 4*h, "a2"), def("m", 2*h, 6*h, "a1")},
			id:    "r", newEnd: 5 * h, want: conflictWith([]string{"a1", "a2"}, "m", "n"), finalEnd: h},
		{name: "shorten", setup: []Allocation{def("r", 0, 3*h, "a1"), def("n", 3*h, 4*h, "a1")}, id: "r", newEnd: h, finalEnd: h},
		{name: "extend within the queue limit", setup: []Allocation{def("r", 0, h, "a1")}, id: "r", newEnd: 48 * h, finalEnd: 48 * h},
		{name: "extend over the queue limit", setup: []Allocation{def("r", 0, h, "a1")}, id: "r", newEnd: 48*h + 1,
			want: walltimeErr(QueueDefault, 48*h), finalEnd: h},
		{name: "extension preempts besteffort",
			setup: []Allocation{def("r", 0, h, "a1"), bef("x", h, 9*h, "a1", "a2"), bef("y", 10*h, 11*h, "a1")},
			id:    "r", newEnd: 2 * h, preempt: []string{"x"}, removed: []string{"x"}, finalEnd: 2 * h},
		{name: "besteffort extension does not preempt",
			setup: []Allocation{bef("r", 0, h, "a1"), bef("x", h, 9*h, "a1")},
			id:    "r", newEnd: 2 * h, want: conflictWith([]string{"a1"}, "x"), finalEnd: h},
		{name: "unknown allocation", id: "nope", newEnd: h, want: isErr(ErrNotFound)},
		{name: "end at start", setup: []Allocation{def("r", 0, h, "a1")}, id: "r", newEnd: 0, want: isErr(ErrBadRequest), finalEnd: h},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newGantt(t, tc.setup...)
			before := snapshot(g)
			pre, err := g.Resize(tc.id, at(tc.newEnd), DefaultPolicy())
			expectErr(t, err, tc.want)
			if tc.want != nil && snapshot(g) != before {
				t.Fatal("failed Resize changed the Gantt")
			}
			if err := g.Check(); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(pre, tc.preempt) {
				t.Errorf("preempted %v, want %v", pre, tc.preempt)
			}
			for _, id := range tc.removed {
				if _, ok := g.Allocation(id); ok {
					t.Errorf("%s still allocated", id)
				}
			}
			if a, ok := g.Allocation(tc.id); ok && !a.End.Equal(at(tc.finalEnd)) {
				t.Errorf("end %s, want %s", a.End, at(tc.finalEnd))
			}
		})
	}
}

func TestShortenFreesNodesForFirstFit(t *testing.T) {
	g := newGantt(t, def("r", 0, 5*h, "a1"))
	req := Request{ID: "q", Queue: QueueDefault, Groups: grp1(1, "a1"), Walltime: h}
	p, err := g.Place(req, t0, DefaultPolicy())
	if err != nil || !p.Start.Equal(at(5*h)) {
		t.Fatalf("before: %+v %v", p, err)
	}
	if _, err := g.Resize("r", at(2*h), DefaultPolicy()); err != nil {
		t.Fatal(err)
	}
	p, err = g.Place(req, t0, DefaultPolicy())
	if err != nil || !p.Start.Equal(at(2*h)) {
		t.Fatalf("after: %+v %v", p, err)
	}
	g.Remove("r")
	g.Remove("r") // idempotent
	p, err = g.Place(req, t0, DefaultPolicy())
	if err != nil || !p.Start.Equal(t0) {
		t.Fatalf("after remove: %+v %v", p, err)
	}
}

func TestSchedulePriority(t *testing.T) {
	g := newGantt(t)
	one := grp1(1, "a1")
	reqs := []Request{
		{ID: "be", Queue: QueueBestEffort, Groups: one, Walltime: h},
		{ID: "d1", Queue: QueueDefault, Groups: one, Walltime: h},
		{ID: "ad", Queue: QueueAdmin, Groups: one, Walltime: h},
		{ID: "d2", Queue: QueueDefault, Groups: one, Walltime: h},
		{ID: "bad", Queue: "nope", Groups: one, Walltime: h},
	}
	ds := g.Schedule(reqs, t0, DefaultPolicy())
	wantStart := map[string]time.Duration{"ad": 0, "d1": h, "d2": 2 * h}
	for i, d := range ds {
		id := reqs[i].ID
		if want, ok := wantStart[id]; ok {
			if d.Err != nil || d.Placement.ID != id || !d.Placement.Start.Equal(at(want)) {
				t.Errorf("%s: %+v, want start %s", id, d, at(want))
			}
			continue
		}
		if d.Err == nil {
			t.Errorf("%s: placed %+v, want an error", id, d.Placement)
		}
	}
	expectErr(t, ds[0].Err, conflictAt(0, 1, 0)) // besteffort waits outside the Gantt
	expectErr(t, ds[4].Err, isErr(ErrBadRequest))
	if len(g.Allocations()) != 3 {
		t.Fatalf("committed:\n%s", g)
	}
}

func TestPlaceIsDeterministic(t *testing.T) {
	allocs := []Allocation{def("x", 0, h, "a1"), def("y", 0, 2*h, "a2"), bef("z", 0, 5*h, "a3"), def("w", 3*h, 4*h, "a4")}
	g1 := newGantt(t, allocs...)
	rev := slices.Clone(allocs)
	slices.Reverse(rev)
	g2 := newGantt(t, rev...)
	req := Request{ID: "r", Queue: QueueDefault, Groups: grp1(3, "a1", "a2", "a3", "a4"), Walltime: 2 * h}
	p1, err1 := g1.Place(req, t0, DefaultPolicy())
	p2, err2 := g2.Place(req, t0, DefaultPolicy())
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if !slices.Equal(p1.Nodes, p2.Nodes) || !p1.Start.Equal(p2.Start) || !slices.Equal(p1.Preempt, p2.Preempt) {
		t.Fatalf("%+v != %+v", p1, p2)
	}
}

func TestCheckDetectsDoubleBooking(t *testing.T) {
	g := newGantt(t, def("x", 0, 2*h, "a1"), def("y", 2*h, 3*h, "a1"))
	// Corrupt the index behind the API's back: y now starts inside x.
	y := g.allocs["y"]
	y.s = at(h).UnixNano()
	g.nodes[g.byName["a1"]].busy.iv[1].s = y.s
	if err := g.Check(); err == nil {
		t.Fatal("Check missed an overlap")
	}
}

func TestDownToggle(t *testing.T) {
	g := newGantt(t)
	g.SetDown("a1", true)
	if !g.Down("a1") || g.Down("a2") {
		t.Fatal("Down")
	}
	req := Request{ID: "r", Queue: QueueDefault, Groups: grp1(1, "a1"), Walltime: h}
	_, err := g.Place(req, t0, DefaultPolicy())
	expectErr(t, err, neverFits(0, 1, 0, 1, 1))
	g.SetDown("a1", false)
	if _, err := g.Place(req, t0, DefaultPolicy()); err != nil {
		t.Fatal(err)
	}
}
