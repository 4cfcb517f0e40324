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

func checkTime(what string, t time.Time) error {
	if t.Before(minTime) || t.After(maxTime) {
		return badRequest("%s %s is outside the years 1970-2200", what, t.Format(time.RFC3339))
	}
	return nil
}

func toTime(n int64) time.Time { return time.Unix(0, n).UTC() }

// span is one allocation's interval [s, e) on one node.
type span struct {
	s, e int64
	a    *alloc
	be   bool // a.queue == QueueBestEffort, kept here to skip the pointer on hot paths
}

type alloc struct {
	id    string
	queue Queue
	nodes []int32
	s, e  int64
}

type node struct {
	name  string
	down  bool
	spans []span // sorted by s; never overlapping, so also sorted by e
}

// Gantt is the schedule of a set of nodes: for each node, its allocations as
// sorted, non-overlapping intervals. The zero value is not usable; call
// NewGantt. A Gantt is not safe for concurrent use.
type Gantt struct {
	byName map[string]int32
	nodes  []node
	allocs map[string]*alloc
	sc     scratch
}

// NewGantt returns an empty schedule.
func NewGantt() *Gantt {
	return &Gantt{byName: map[string]int32{}, allocs: map[string]*alloc{}}
}

// node returns the index of a node, registering it (up, free) if unknown.
func (g *Gantt) node(name string) int32 {
	if i, ok := g.byName[name]; ok {
		return i
	}
	i := int32(len(g.nodes))
	g.nodes = append(g.nodes, node{name: name})
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

// firstEndAfter is the index of the first span ending after t.
func firstEndAfter(sp []span, t int64) int {
	lo, hi := 0, len(sp)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if sp[m].e >= t {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// spanOf is the index of a's span on node n.
func (g *Gantt) spanOf(n int32, a *alloc) int {
	sp := g.nodes[n].spans
	j := firstEndAfter(sp, a.s)
	if j == len(sp) || sp[j].a != a {
		panic(fmt.Sprintf("sched: index corrupt: allocation %s has no span on node %s", a.id, g.nodes[n].name))
	}
	return j
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
	if err := checkTime("allocation "+a.ID+" start", a.Start); err != nil {
		return nil, err
	}
	if err := checkTime("allocation "+a.ID+" end", a.End); err != nil {
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
		sp := g.nodes[n].spans
		busy := false
		for j := firstEndAfter(sp, rec.s); j < len(sp) && sp[j].s < rec.e; j++ {
			if ignore[sp[j].a] {
				if hit == nil {
					hit = map[*alloc]bool{}
				}
				hit[sp[j].a] = true
				continue
			}
			busy = true
			with = append(with, sp[j].a.id)
		}
		if busy {
			nodes = append(nodes, g.nodes[n].name)
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
	be := rec.queue == QueueBestEffort
	for _, n := range rec.nodes {
		nd := &g.nodes[n]
		// Spans before j end by rec.s; since nothing overlaps, spans from j start at or after rec.e.
		j := firstEndAfter(nd.spans, rec.s)
		nd.spans = slices.Insert(nd.spans, j, span{s: rec.s, e: rec.e, a: rec, be: be})
	}
}

func (g *Gantt) remove(rec *alloc) {
	for _, n := range rec.nodes {
		j := g.spanOf(n, rec)
		nd := &g.nodes[n]
		nd.spans = slices.Delete(nd.spans, j, j+1)
	}
	delete(g.allocs, rec.id)
}

// setEnd moves rec's end; the caller has checked the new range is free.
func (g *Gantt) setEnd(rec *alloc, e int64) {
	for _, n := range rec.nodes {
		g.nodes[n].spans[g.spanOf(n, rec)].e = e
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
	if err := checkTime("new end", newEnd); err != nil {
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
		sp := g.nodes[n].spans
		busy := false
		for j := g.spanOf(n, rec) + 1; j < len(sp) && sp[j].s < ne; j++ {
			if sp[j].be && !be {
				if !slices.Contains(pre, sp[j].a) {
					pre = append(pre, sp[j].a)
				}
				continue
			}
			busy = true
			with = append(with, sp[j].a.id)
		}
		if busy {
			nodes = append(nodes, g.nodes[n].name)
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
		names[i] = g.nodes[n].name
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
	spans := 0
	for i := range g.nodes {
		nd := &g.nodes[i]
		if g.byName[nd.name] != int32(i) {
			return fmt.Errorf("sched: node %s is not indexed under its name", nd.name)
		}
		for j, sp := range nd.spans {
			switch {
			case sp.a == nil || g.allocs[sp.a.id] != sp.a:
				return fmt.Errorf("sched: node %s: interval of an unknown allocation", nd.name)
			case sp.s >= sp.e:
				return fmt.Errorf("sched: node %s: empty interval of %s", nd.name, sp.a.id)
			case sp.s != sp.a.s || sp.e != sp.a.e:
				return fmt.Errorf("sched: node %s: interval of %s disagrees with the allocation", nd.name, sp.a.id)
			case sp.be != (sp.a.queue == QueueBestEffort):
				return fmt.Errorf("sched: node %s: interval of %s has the wrong besteffort flag", nd.name, sp.a.id)
			case !slices.Contains(sp.a.nodes, int32(i)):
				return fmt.Errorf("sched: node %s: interval of %s, which does not hold the node", nd.name, sp.a.id)
			case j > 0 && nd.spans[j-1].e > sp.s:
				p := nd.spans[j-1]
				return fmt.Errorf("sched: node %s is double booked: %s [%s, %s) overlaps %s [%s, %s)", nd.name,
					p.a.id, toTime(p.s).Format(time.RFC3339), toTime(p.e).Format(time.RFC3339),
					sp.a.id, toTime(sp.s).Format(time.RFC3339), toTime(sp.e).Format(time.RFC3339))
			case j > 0 && nd.spans[j-1].s >= sp.s:
				return fmt.Errorf("sched: node %s: intervals out of order", nd.name)
			}
		}
		spans += len(nd.spans)
	}
	held := 0
	for id, a := range g.allocs {
		if a.id != id {
			return fmt.Errorf("sched: allocation %s indexed as %s", a.id, id)
		}
		for k, n := range a.nodes {
			if slices.Contains(a.nodes[:k], n) {
				return fmt.Errorf("sched: allocation %s holds node %s twice", id, g.nodes[n].name)
			}
		}
		held += len(a.nodes)
	}
	if held != spans {
		return fmt.Errorf("sched: allocations hold %d node intervals but the nodes index %d", held, spans)
	}
	return nil
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
