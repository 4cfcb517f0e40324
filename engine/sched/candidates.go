package sched

import "slices"

// Turning candidate uids into node indices costs a map lookup per candidate,
// the largest part of a decision on big clusters. Callers ask again and again
// for the same lists (the nodes of a cluster, of a common properties filter),
// so resolved lists are cached, keyed by their length and end uids and checked
// element by element on every hit: comparing two equal strings is far cheaper
// than hashing one, and an entry cannot go stale because a node's index never
// changes (down state is read at use time, not cached). Short lists are not
// worth it.
const (
	cacheMinLen = 32
	cacheMax    = 256
)

type candKey struct {
	n           int
	first, last string
}

type candSet struct {
	names []string // a copy: the caller may reuse its slice
	idx   []int32  // distinct node indices, in the caller's order
}

// lookup returns the distinct node indices of names, in order, registering
// unknown nodes; ok is false if a name is empty. The result is either a cache
// entry or *buf; neither may be modified by the caller.
func (g *Gantt) lookup(names []string, buf *[]int32) (idx []int32, ok bool) {
	if len(names) < cacheMinLen {
		*buf, ok = g.dedup(names, (*buf)[:0])
		return *buf, ok
	}
	key := candKey{len(names), names[0], names[len(names)-1]}
	if c, hit := g.cache[key]; hit && slices.Equal(c.names, names) {
		return c.idx, true
	}
	if idx, ok = g.dedup(names, nil); !ok {
		return nil, false
	}
	if len(g.cache) >= cacheMax {
		clear(g.cache)
	}
	g.cache[key] = &candSet{names: slices.Clone(names), idx: idx}
	return idx, true
}

func (g *Gantt) dedup(names []string, out []int32) ([]int32, bool) {
	ep := g.nextEpoch()
	for _, name := range names {
		if name == "" {
			return out, false
		}
		n, ok := g.byName[name]
		if !ok {
			n = g.node(name)
		}
		if !g.sc.mark(n, ep, 0) {
			out = append(out, n)
		}
	}
	return out, true
}

// resolve fills sc.grps and sc.flat: each group's distinct, up candidates in
// the caller's order. It reports whether two groups share a candidate, or
// the first group with an empty uid among its candidates (-1: none).
func (g *Gantt) resolve(groups []Group) (overlap bool, bad int) {
	sc := &g.sc
	for len(sc.bufs) < len(groups) {
		sc.bufs = append(sc.bufs, nil)
	}
	sc.lists = sc.lists[:0]
	for gi, gr := range groups {
		idx, ok := g.lookup(gr.Candidates, &sc.bufs[gi])
		if !ok {
			return false, gi
		}
		sc.lists = append(sc.lists, idx)
	}
	sc.flat, sc.grps = sc.flat[:0], sc.grps[:0]
	var ep uint32
	if len(groups) > 1 {
		ep = g.nextEpoch()
	}
	for gi, idx := range sc.lists {
		r := grp{lo: len(sc.flat), count: groups[gi].Count, total: len(idx)}
		for _, n := range idx {
			if ep != 0 {
				if other, seen := sc.seenBy(n, ep); seen && other != int32(gi) {
					overlap = true
				}
				sc.mark(n, ep, int32(gi))
			}
			if g.nodes[n].down {
				r.down++
				continue
			}
			sc.flat = append(sc.flat, n)
		}
		r.hi = len(sc.flat)
		sc.grps = append(sc.grps, r)
	}
	return overlap, -1
}
