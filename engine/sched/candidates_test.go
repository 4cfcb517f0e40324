package sched

import (
	"fmt"
	"slices"
	"testing"
)

func bigCluster(prefix string, n int) []string {
	var names []string
	for i := range n {
		names = append(names, fmt.Sprintf("%s%02d", prefix, i))
	}
	return names
}

// The resolved-candidates cache must never change an answer: every case
// places on a Gantt that has cached the list and checks the result against a
// fresh Gantt, which has not.
func TestCandidateCacheNeverChangesAnswers(t *testing.T) {
	base := bigCluster("n", 40)
	// Everything busy but n10 and n20.
	busy := []Allocation{def("x", 0, 2*h, slices.Concat(base[:10], base[11:20], base[21:])...)}
	place := func(g *Gantt, cands []string, count int) Placement {
		t.Helper()
		p, err := g.Place(Request{ID: "r", Queue: QueueDefault, Groups: grp1(count, cands...), Walltime: h}, t0, DefaultPolicy())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	same := func(cached *Gantt, cands []string, count int) {
		t.Helper()
		got, want := place(cached, cands, count), place(newGantt(t, busy...), cands, count)
		if !slices.Equal(got.Nodes, want.Nodes) || !got.Start.Equal(want.Start) {
			t.Fatalf("cached %v at %s, fresh %v at %s", got.Nodes, got.Start, want.Nodes, want.Start)
		}
	}
	g := newGantt(t, busy...)
	cands := slices.Clone(base)
	if p := place(g, cands, 1); p.Nodes[0] != "n10" { // fills the cache
		t.Fatalf("got %v", p.Nodes)
	}

	// Same content in another slice: a hit, same answer.
	same(g, slices.Clone(base), 1)

	// The caller reuses its slice with another order: the cache must not
	// answer with the old list.
	cands[10], cands[20] = cands[20], cands[10]
	if p := place(g, cands, 1); p.Nodes[0] != "n20" {
		t.Fatalf("stale cached order: %v", p.Nodes)
	}
	same(g, cands, 1)
	cands[10], cands[20] = cands[20], cands[10]

	// Same length and ends, different middle (the cache key collides).
	mid := slices.Clone(base)
	mid[5] = "other"
	if p := place(g, mid, 1); p.Nodes[0] != "other" {
		t.Fatalf("colliding cache key answered %v", p.Nodes)
	}
	same(g, mid, 2)
	same(g, base, 2)

	// Down state is read at use time, not cached.
	g.SetDown("n10", true)
	if p := place(g, base, 1); p.Nodes[0] != "n20" {
		t.Fatalf("down node chosen from a cached list: %v", p.Nodes)
	}
	g.SetDown("n10", false)

	// Duplicates in a long list count once.
	dup := append(slices.Clone(base), "n39")
	_, err := g.Place(Request{ID: "r", Queue: QueueDefault, Groups: grp1(41, dup...), Walltime: h}, t0, DefaultPolicy())
	if cached := g.cache[candKey{len(dup), dup[0], dup[len(dup)-1]}]; cached == nil || len(cached.idx) != 40 {
		t.Fatalf("long list with a duplicate not cached deduplicated: %+v", cached)
	}
	expectErr(t, err, neverFits(0, 41, 40, 40, 0))

	// An empty uid in a long list is refused and not cached.
	empty := slices.Clone(base)
	empty[5] = ""
	for range 2 {
		_, err = g.Place(Request{ID: "r", Queue: QueueDefault, Groups: grp1(1, empty...), Walltime: h}, t0, DefaultPolicy())
		expectErr(t, err, isErr(ErrBadRequest))
	}

	// Many distinct lists: the cache is bounded.
	for i := range cacheMax + 10 {
		l := bigCluster(fmt.Sprintf("m%d-", i), cacheMinLen)
		place(g, l, 1)
	}
	if len(g.cache) > cacheMax {
		t.Fatalf("cache holds %d lists", len(g.cache))
	}
	same(g, base, 2)
}

func TestCheckDetectsBesteffortUnderReservation(t *testing.T) {
	g := newGantt(t, def("x", 0, 2*h, "a1"), bef("y", 3*h, 4*h, "a1"))
	y := g.allocs["y"]
	y.s = at(h).UnixNano()
	g.nodes[g.byName["a1"]].be.iv[0].s = y.s
	if err := g.Check(); err == nil {
		t.Fatal("Check missed a besteffort interval under a reservation")
	}
}

func TestCheckDetectsStaleSummary(t *testing.T) {
	g := newGantt(t, def("x", 0, 2*h, "a1"))
	g.nodes[g.byName["a1"]].last = at(h).UnixNano()
	if err := g.Check(); err == nil {
		t.Fatal("Check missed a stale cached end")
	}
}
