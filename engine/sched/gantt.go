package sched

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Times are kept as Unix nanoseconds; accepted times lie in [1970, 2200] and
// walltimes under 50 years, so start+walltime never overflows.
var (
	minTime = time.Unix(0, 0)
	maxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

const maxWalltime = 50 * 365 * 24 * time.Hour

// checkTime refuses a time outside the supported range; id and what say
// which one in the message.
func checkTime(id, what string, t time.Time) error {
	if t.Before(minTime) || t.After(maxTime) {
		return badRequest("%s: %s %s is outside 1970 to 2200", id, what, t.Format(time.RFC3339))
	}
	return nil
}

func toTime(n int64) time.Time { return time.Unix(0, n).UTC() }

// ival is one allocation's interval [s, e) on one node.
type ival struct{ s, e int64 }

type alloc struct {
	id    string
	queue Queue
	nodes []int32
	s, e  int64
}

// track is a node's intervals of one kind, sorted by start and never
// overlapping (so also sorted by end), with their owners alongside: the
// intervals alone are what the hot loops read, 16 bytes each.
type track struct {
	iv []ival
	by []*alloc
}

// firstEndAfter is the index of the first interval ending after t.
func firstEndAfter(iv []ival, t int64) int {
	lo, hi := 0, len(iv)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if iv[m].e > t {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// overlapping returns the index range [j, k) of the intervals meeting [s, e).
func (tr *track) overlapping(s, e int64) (j, k int) {
	j = firstEndAfter(tr.iv, s)
	k = j
	for k < len(tr.iv) && tr.iv[k].s < e {
		k++
	}
	return j, k
}

func (tr *track) insert(a *alloc) {
	// Intervals before j end by a.s; as nothing overlaps, those from j start at or after a.e.
	j := firstEndAfter(tr.iv, a.s)
	tr.iv = slices.Insert(tr.iv, j, ival{a.s, a.e})
	tr.by = slices.Insert(tr.by, j, a)
}

// node is one node's schedule. Admin and default intervals (busy) and
// besteffort ones (be) are kept apart, since most searches ignore besteffort;
// together they still never overlap. The cached summary of the busy track
// answers most of a search's questions without reading the intervals, which
// on a big cluster are a cache miss per node.
type node struct {
	last    int64 // end of the last busy interval (0: none)
	lastAll int64 // end of the last interval of either track (0: none)
	first   int64 // start of the first busy interval (forever: none)
	maxGap  int64 // longest gap between two consecutive busy intervals
	down    bool
	busy    track
	be      track
}

func (nd *node) track(a *alloc) *track {
	if a.queue == QueueBestEffort {
		return &nd.be
	}
	return &nd.busy
}

// refresh recomputes the cached ends after the intervals changed.
func (nd *node) refresh() {
	nd.last, nd.first, nd.maxGap = 0, forever, 0
	if n := len(nd.busy.iv); n > 0 {
		nd.last, nd.first = nd.busy.iv[n-1].e, nd.busy.iv[0].s
	}
	for j := 1; j < len(nd.busy.iv); j++ {
		nd.maxGap = max(nd.maxGap, nd.busy.iv[j].s-nd.busy.iv[j-1].e)
	}
	nd.lastAll = nd.last
	if n := len(nd.be.iv); n > 0 {
		nd.lastAll = max(nd.lastAll, nd.be.iv[n-1].e)
	}
}

// Gantt is the schedule of a set of nodes: for each node, its allocations as
// sorted, non-overlapping intervals. The zero value is not usable; call
// NewGantt. A Gantt is not safe for concurrent use.
type Gantt struct {
	byName map[string]int32
	names  []string
	nodes  []node
	allocs map[string]*alloc
	cache  map[candKey]*candSet
	sc     scratch
}

// NewGantt returns an empty schedule.
func NewGantt() *Gantt {
	return &Gantt{byName: map[string]int32{}, allocs: map[string]*alloc{}, cache: map[candKey]*candSet{}}
}

// node returns the index of a node, registering it (up, free) if unknown.
func (g *Gantt) node(name string) int32 {
	if i, ok := g.byName[name]; ok {
		return i
	}
	i := int32(len(g.nodes))
	g.nodes = append(g.nodes, node{first: forever})
	g.names = append(g.names, name)
	g.byName[name] = i
	return i
}

// SetDown marks a node down (never allocated by Place) or up again. Existing
// allocations on the node are kept.
func (g *Gantt) SetDown(name string, down bool) {
	g.nodes[g.node(name)].down = down
}

// Down reports whether a node is marked down.
func (g *Gantt) Down(name string) bool {
	i, ok := g.byName[name]
	return ok && g.nodes[i].down
}

// slot locates a's interval on node n.
func (g *Gantt) slot(n int32, a *alloc) (*track, int) {
	tr := g.nodes[n].track(a)
	j := firstEndAfter(tr.iv, a.s)
	if j == len(tr.iv) || tr.by[j] != a {
		panic(fmt.Sprintf("sched: index corrupt: allocation %s has no interval on node %s", a.id, g.names[n]))
	}
	return tr, j
}

// Add records an existing allocation, e.g. when the Gantt is rebuilt from the
// store. It refuses, with *ConflictError, an allocation that would overlap
// another one on any node: the invariant is defended here, not trusted. Down
// nodes are accepted (a node may fail while reserved).
func (g *Gantt) Add(a Allocation) error {
	rec, err := g.newAlloc(a)
	if err != nil {
		return err
	}
	if _, err := g.conflicts(rec, nil); err != nil {
		return err
	}
	g.insert(rec)
	return nil
}

func (g *Gantt) newAlloc(a Allocation) (*alloc, error) {
	if a.ID == "" {
		return nil, badRequest("allocation without id")
	}
	if _, ok := g.allocs[a.ID]; ok {
		return nil, badRequest("allocation %s already exists: Remove or Resize it instead", a.ID)
	}
	if a.Queue.Priority() < 0 {
		return nil, badRequest("allocation %s: unknown queue %q (want admin, default or besteffort)", a.ID, a.Queue)
	}
	if len(a.Nodes) == 0 {
		return nil, badRequest("allocation %s holds no nodes", a.ID)
	}
	if err := checkTime(a.ID, "start", a.Start); err != nil {
		return nil, err
	}
	if err := checkTime(a.ID, "end", a.End); err != nil {
		return nil, err
	}
	if !a.End.After(a.Start) {
		return nil, badRequest("allocation %s ends (%s) before it starts (%s)",
			a.ID, a.End.Format(time.RFC3339), a.Start.Format(time.RFC3339))
	}
	rec := &alloc{id: a.ID, queue: a.Queue, nodes: make([]int32, len(a.Nodes)), s: a.Start.UnixNano(), e: a.End.UnixNano()}
	ep := g.nextEpoch()
	for i, name := range a.Nodes {
		if name == "" {
			return nil, badRequest("allocation %s has an empty node uid", a.ID)
		}
		n := g.node(name)
		if g.sc.mark(n, ep, 0) {
			return nil, badRequest("allocation %s lists node %s twice", a.ID, name)
		}
		rec.nodes[i] = n
	}
	return rec, nil
}

// conflicts returns the allocations, other than those in ignore, that overlap
// rec on its nodes; with any outside ignore it returns a *ConflictError. The
// map lists which ignored allocations were actually hit.
func (g *Gantt) conflicts(rec *alloc, ignore map[*alloc]bool) (hit map[*alloc]bool, err error) {
	var nodes, with []string
	for _, n := range rec.nodes {
		busy := false
		for _, tr := range []*track{&g.nodes[n].busy, &g.nodes[n].be} {
			j, k := tr.overlapping(rec.s, rec.e)
			for _, o := range tr.by[j:k] {
				if ignore[o] {
					if hit == nil {
						hit = map[*alloc]bool{}
					}
					hit[o] = true
					continue
				}
				busy = true
				with = append(with, o.id)
			}
		}
		if busy {
			nodes = append(nodes, g.names[n])
		}
	}
	if len(nodes) > 0 {
		slices.Sort(with)
		return nil, &ConflictError{ID: rec.id, Start: toTime(rec.s), End: toTime(rec.e),
			Group: -1, Nodes: nodes, With: slices.Compact(with)}
	}
	return hit, nil
}

func (g *Gantt) insert(rec *alloc) {
	g.allocs[rec.id] = rec
	for _, n := range rec.nodes {
		nd := &g.nodes[n]
		nd.track(rec).insert(rec)
		nd.refresh()
	}
}

func (g *Gantt) remove(rec *alloc) {
	for _, n := range rec.nodes {
		tr, j := g.slot(n, rec)
		tr.iv = slices.Delete(tr.iv, j, j+1)
		tr.by = slices.Delete(tr.by, j, j+1)
		g.nodes[n].refresh()
	}
	delete(g.allocs, rec.id)
}

// setEnd moves rec's end; the caller has checked the new range is free.
func (g *Gantt) setEnd(rec *alloc, e int64) {
	for _, n := range rec.nodes {
		tr, j := g.slot(n, rec)
		tr.iv[j].e = e
		g.nodes[n].refresh()
	}
	rec.e = e
}

// Remove deletes an allocation (reservation ended, cancelled or preempted). An
// unknown id is a no-op, so the caller can retry.
func (g *Gantt) Remove(id string) {
	if rec, ok := g.allocs[id]; ok {
		g.remove(rec)
	}
}

// Resize moves an allocation's End: the walltime extension or reduction of a
// reservation. Shortening always succeeds. Extending needs every node free over
// [old End, newEnd) (otherwise *ConflictError, nothing changed) and the new
// walltime within the queue's maximum (*WalltimeError). Extending an admin or
// default allocation removes the besteffort allocations in the way and returns
// their ids, sorted; the caller ends those reservations.
func (g *Gantt) Resize(id string, newEnd time.Time, pol Policy) (preempted []string, err error) {
	rec, ok := g.allocs[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err := checkTime(id, "new end", newEnd); err != nil {
		return nil, err
	}
	ne := newEnd.UnixNano()
	if ne <= rec.s {
		return nil, badRequest("%s: new end %s is not after the start %s; Remove the allocation to cancel it",
			id, newEnd.Format(time.RFC3339), toTime(rec.s).Format(time.RFC3339))
	}
	if ne <= rec.e {
		g.setEnd(rec, ne)
		return nil, nil
	}
	max, ok := pol.MaxWalltime[rec.queue]
	if !ok {
		return nil, badRequest("%s: queue %q is closed by the policy; it cannot be extended", id, rec.queue)
	}
	if max > 0 && time.Duration(ne-rec.s) > max {
		return nil, &WalltimeError{Queue: rec.queue, Walltime: time.Duration(ne - rec.s), Max: max}
	}
	be := rec.queue == QueueBestEffort
	var pre []*alloc
	var nodes, with []string
	for _, n := range rec.nodes {
		nd := &g.nodes[n]
		// rec's own interval ends at its old end, so it is not among these.
		j, k := nd.busy.overlapping(rec.e, ne)
		for _, o := range nd.busy.by[j:k] {
			with = append(with, o.id)
		}
		busy := k > j
		j, k = nd.be.overlapping(rec.e, ne)
		for _, o := range nd.be.by[j:k] {
			if be {
				busy = true
				with = append(with, o.id)
			} else if !slices.Contains(pre, o) {
				pre = append(pre, o)
			}
		}
		if busy {
			nodes = append(nodes, g.names[n])
		}
	}
	if len(nodes) > 0 {
		slices.Sort(with)
		return nil, &ConflictError{ID: id, Start: toTime(rec.e), End: newEnd.UTC(), Group: -1,
			Nodes: nodes, With: slices.Compact(with)}
	}
	for _, p := range pre {
		// p starts at or after rec's old end on a shared node, so ending it
		// there means it never runs: remove it.
		preempted = append(preempted, p.id)
		g.remove(p)
	}
	g.setEnd(rec, ne)
	slices.Sort(preempted)
	return preempted, nil
}

// Commit records a Placement returned by Place: it ends the preempted
// besteffort allocations at p.Start (removing those that would not have started
// by then) and adds the allocation. It is atomic: on error nothing changed. If
// the Gantt changed since Place, the allocation is checked again and a conflict
// is a *ConflictError.
func (g *Gantt) Commit(p Placement) error {
	rec, err := g.newAlloc(p.Allocation)
	if err != nil {
		return err
	}
	var ignore map[*alloc]bool
	for _, id := range p.Preempt {
		b, ok := g.allocs[id]
		if !ok {
			continue // already ended by the caller
		}
		if b.queue != QueueBestEffort {
			return badRequest("%s cannot preempt %s: it is in the %s queue, only besteffort is preemptible", p.ID, id, b.queue)
		}
		if rec.queue == QueueBestEffort {
			return badRequest("%s cannot preempt %s: besteffort never preempts", p.ID, id)
		}
		if ignore == nil {
			ignore = map[*alloc]bool{}
		}
		ignore[b] = true
	}
	hit, err := g.conflicts(rec, ignore)
	if err != nil {
		return err
	}
	for _, id := range p.Preempt {
		b := g.allocs[id]
		if b == nil || !hit[b] {
			continue
		}
		if b.s >= rec.s {
			g.remove(b)
		} else {
			g.setEnd(b, rec.s)
		}
	}
	g.insert(rec)
	return nil
}

func (g *Gantt) export(a *alloc) Allocation {
	names := make([]string, len(a.nodes))
	for i, n := range a.nodes {
		names[i] = g.names[n]
	}
	return Allocation{ID: a.id, Queue: a.queue, Nodes: names, Start: toTime(a.s), End: toTime(a.e)}
}

// Allocation returns one allocation by id.
func (g *Gantt) Allocation(id string) (Allocation, bool) {
	a, ok := g.allocs[id]
	if !ok {
		return Allocation{}, false
	}
	return g.export(a), true
}

// Allocations returns every allocation, sorted by Start then ID. Times are UTC.
func (g *Gantt) Allocations() []Allocation {
	out := make([]Allocation, 0, len(g.allocs))
	for _, a := range g.allocs {
		out = append(out, g.export(a))
	}
	slices.SortFunc(out, func(x, y Allocation) int {
		if c := x.Start.Compare(y.Start); c != 0 {
			return c
		}
		return cmp.Compare(x.ID, y.ID)
	})
	return out
}

// Check verifies the Gantt's invariants: every node's intervals are sorted and
// never overlap (no node is in two overlapping allocations), and the per-node
// index agrees with the allocations. It returns the first violation found.
func (g *Gantt) Check() error {
	held := 0
	for i := range g.nodes {
		nd := &g.nodes[i]
		name := g.names[i]
		if g.byName[name] != int32(i) {
			return fmt.Errorf("sched: node %s is not indexed under its name", name)
		}
		for _, tr := range []*track{&nd.busy, &nd.be} {
			if len(tr.iv) != len(tr.by) {
				return fmt.Errorf("sched: node %s: intervals and owners disagree", name)
			}
			for j, iv := range tr.iv {
				a := tr.by[j]
				switch {
				case a == nil || g.allocs[a.id] != a:
					return fmt.Errorf("sched: node %s: interval of an unknown allocation", name)
				case iv.s >= iv.e:
					return fmt.Errorf("sched: node %s: empty interval of %s", name, a.id)
				case iv.s != a.s || iv.e != a.e:
					return fmt.Errorf("sched: node %s: interval of %s disagrees with the allocation", name, a.id)
				case nd.track(a) != tr:
					return fmt.Errorf("sched: node %s: interval of %s is on the wrong track", name, a.id)
				case !slices.Contains(a.nodes, int32(i)):
					return fmt.Errorf("sched: node %s: interval of %s, which does not hold the node", name, a.id)
				case j > 0 && tr.iv[j-1].e > iv.s:
					return doubleBooked(name, tr.by[j-1], a)
				case j > 0 && tr.iv[j-1].s >= iv.s:
					return fmt.Errorf("sched: node %s: intervals out of order", name)
				}
			}
			held += len(tr.iv)
		}
		for j, iv := range nd.be.iv {
			if k, l := nd.busy.overlapping(iv.s, iv.e); l > k {
				return doubleBooked(name, nd.busy.by[k], nd.be.by[j])
			}
		}
		cached := *nd
		cached.refresh()
		if cached.last != nd.last || cached.lastAll != nd.lastAll || cached.first != nd.first || cached.maxGap != nd.maxGap {
			return fmt.Errorf("sched: node %s: cached ends are stale", name)
		}
	}
	for id, a := range g.allocs {
		if a.id != id {
			return fmt.Errorf("sched: allocation %s indexed as %s", a.id, id)
		}
		for k, n := range a.nodes {
			if slices.Contains(a.nodes[:k], n) {
				return fmt.Errorf("sched: allocation %s holds node %s twice", id, g.names[n])
			}
		}
		held -= len(a.nodes)
	}
	if held != 0 {
		return fmt.Errorf("sched: allocations and node intervals differ in number by %d", held)
	}
	return nil
}

func doubleBooked(node string, a, b *alloc) error {
	return fmt.Errorf("sched: node %s is double booked: %s [%s, %s) overlaps %s [%s, %s)", node,
		a.id, toTime(a.s).Format(time.RFC3339), toTime(a.e).Format(time.RFC3339),
		b.id, toTime(b.s).Format(time.RFC3339), toTime(b.e).Format(time.RFC3339))
}

// String renders the schedule, one allocation per line, for test failures.
func (g *Gantt) String() string {
	var b strings.Builder
	for _, a := range g.Allocations() {
		fmt.Fprintf(&b, "%s %s [%s, %s) %s\n", a.ID, a.Queue, a.Start.Format(time.RFC3339),
			a.End.Format(time.RFC3339), strings.Join(a.Nodes, ","))
	}
	return b.String()
}
