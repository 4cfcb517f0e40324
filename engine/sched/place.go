package sched

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"time"
)

const forever = math.MaxInt64

// win is a half-open range [a, b) of start times.
type win struct{ a, b int64 }

// grp is one request group resolved to node indices: cands = scratch.flat[lo:hi],
// distinct and up, in the caller's order.
type grp struct {
	lo, hi      int
	count       int
	total, down int
	// Set by startWindows: T, and the group's per-node start windows
	// sc.nodeWins[wlo:whi] (complete up to T), which let choose skip the
	// span lookups.
	hasWins  bool
	T        int64
	wlo, whi int
}

// nodeWin is a window of start times [a, b) of the candidate at position pos.
type nodeWin struct {
	pos  int32
	a, b int64
}

// scratch holds Place's buffers so that a decision allocates almost nothing.
type scratch struct {
	epoch    uint32
	marks    []uint32  // per node: the epoch it was last seen in
	markGrp  []int32   // per node: the group it was last seen in
	bufs     [][]int32 // per group: resolved uncached candidates
	lists    [][]int32 // per group: resolved candidates, before removing down nodes
	flat     []int32
	grps     []grp
	nodeWins []nodeWin
	union    []int32
	owner    []int32  // match: per node, the group holding it
	ownEp    []uint32 // match: owner is valid when equal to matchEp
	matchEp  uint32
	tails    []int64
	sel      []int64
	starts   []int64
	ends     []int64
	wins     []win
	acc      []win
	tmp      []win
	pre      []int32
	chosen   []int32
}

// nextEpoch starts a new round of marks (dedup without a map).
func (g *Gantt) nextEpoch() uint32 {
	g.sc.epoch++
	if g.sc.epoch == 0 {
		clear(g.sc.marks)
		g.sc.epoch = 1
	}
	return g.sc.epoch
}

// sizeMarks makes room for the marks of nodes [0, n).
func (sc *scratch) sizeMarks(n int) {
	if n > len(sc.marks) {
		size := max(2*len(sc.marks), n, 64)
		sc.marks = append(sc.marks, make([]uint32, size-len(sc.marks))...)
		sc.markGrp = append(sc.markGrp, make([]int32, size-len(sc.markGrp))...)
	}
}

// mark records node n as seen by group gi in epoch ep and reports whether the
// same group had already seen it.
func (sc *scratch) mark(n int32, ep uint32, gi int32) (dup bool) {
	if int(n) >= len(sc.marks) {
		sc.sizeMarks(int(n) + 1)
	}
	if sc.marks[n] == ep && sc.markGrp[n] == gi {
		return true
	}
	sc.marks[n], sc.markGrp[n] = ep, gi
	return false
}

// seenBy reports whether node n was marked in epoch ep, and by which group.
func (sc *scratch) seenBy(n int32, ep uint32) (int32, bool) {
	if int(n) < len(sc.marks) && sc.marks[n] == ep {
		return sc.markGrp[n], true
	}
	return 0, false
}

// Place decides where and when a request runs, without changing the Gantt
// (record the answer with Commit). See the package documentation for the
// rules. Errors: ErrBadRequest, ErrStartInPast, *WalltimeError,
// *NeverFitsError, and *ConflictError for an advance or besteffort request
// whose nodes are not free at its start.
func (g *Gantt) Place(req Request, now time.Time, pol Policy) (Placement, error) {
	if err := g.validate(req, now, pol); err != nil {
		return Placement{}, err
	}
	be := req.Queue == QueueBestEffort
	w := int64(req.Walltime)
	nowN := now.UnixNano()
	overlap, bad := g.resolve(req.Groups)
	if bad >= 0 {
		return Placement{}, badRequest("%s: group %d has an empty node uid among its candidates", req.ID, bad)
	}
	if err := g.neverFits(overlap); err != nil {
		return Placement{}, err
	}
	var t int64
	switch {
	case be:
		t = nowN
	case !req.Start.IsZero():
		t = req.Start.UnixNano()
	default:
		var ok bool
		if t, ok = g.earliest(nowN, w, overlap); !ok {
			return Placement{}, fmt.Errorf("sched: internal error: no start found for %s; please report it with the schedule", req.ID)
		}
	}
	if ok, gi := g.choose(t, t+w, be, overlap); !ok {
		if !be && req.Start.IsZero() {
			return Placement{}, fmt.Errorf("sched: internal error: the earliest start of %s, %s, does not fit; please report it with the schedule",
				req.ID, toTime(t).Format(time.RFC3339Nano))
		}
		gr := g.sc.grps[gi]
		return Placement{}, &ConflictError{ID: req.ID, Start: toTime(t), End: toTime(t + w),
			Group: gi, Wanted: gr.count, Free: g.countFree(gr, t, t+w, be)}
	}
	p := Placement{Allocation: Allocation{ID: req.ID, Queue: req.Queue,
		Nodes: make([]string, len(g.sc.chosen)), Start: toTime(t), End: toTime(t + w)}}
	for i, n := range g.sc.chosen {
		p.Nodes[i] = g.names[n]
		if be {
			continue
		}
		tr := &g.nodes[n].be
		j, k := tr.overlapping(t, t+w)
		for _, o := range tr.by[j:k] {
			p.Preempt = append(p.Preempt, o.id)
		}
	}
	slices.Sort(p.Preempt)
	p.Preempt = slices.Compact(p.Preempt)
	return p, nil
}

func (g *Gantt) validate(req Request, now time.Time, pol Policy) error {
	if req.ID == "" {
		return badRequest("request without id")
	}
	if _, ok := g.allocs[req.ID]; ok {
		return badRequest("%s is already allocated: Resize or Remove it instead of placing it again", req.ID)
	}
	if req.Queue.Priority() < 0 {
		return badRequest("%s: unknown queue %q (want admin, default or besteffort)", req.ID, req.Queue)
	}
	max, ok := pol.MaxWalltime[req.Queue]
	if !ok {
		return badRequest("%s: queue %q is closed by the policy", req.ID, req.Queue)
	}
	if req.Walltime <= 0 {
		return badRequest("%s: walltime %s must be positive", req.ID, req.Walltime)
	}
	if max > 0 && req.Walltime > max {
		return &WalltimeError{Queue: req.Queue, Walltime: req.Walltime, Max: max}
	}
	if req.Walltime > maxWalltime {
		return badRequest("%s: walltime %s is longer than 50 years", req.ID, req.Walltime)
	}
	if err := checkTime(req.ID, "now", now); err != nil {
		return err
	}
	if len(req.Groups) == 0 {
		return badRequest("%s asks for no nodes: give at least one group", req.ID)
	}
	for i, gr := range req.Groups {
		if gr.Count < 1 {
			return badRequest("%s: group %d asks for %d nodes; at least 1", req.ID, i, gr.Count)
		}
	}
	if !req.Start.IsZero() {
		if req.Queue == QueueBestEffort {
			return badRequest("%s: besteffort reservations start when nodes are idle; leave Start zero", req.ID)
		}
		if err := checkTime(req.ID, "start", req.Start); err != nil {
			return err
		}
		if req.Start.Before(now) {
			return fmt.Errorf("%w: %s asks to start at %s, before now (%s)", ErrStartInPast, req.ID,
				req.Start.Format(time.RFC3339), now.Format(time.RFC3339))
		}
	}
	return nil
}

func (g *Gantt) cands(r grp) []int32 { return g.sc.flat[r.lo:r.hi] }

// neverFits checks each group can be satisfied on an empty schedule.
func (g *Gantt) neverFits(overlap bool) error {
	for i, r := range g.sc.grps {
		if r.hi-r.lo < r.count {
			return &NeverFitsError{Group: i, Wanted: r.count, Matching: r.hi - r.lo, Candidates: r.total, Down: r.down}
		}
	}
	if !overlap || g.hallHolds() {
		return nil
	}
	// Some groups cannot all be served: find which, and how many it gets.
	lists := make([][]int32, len(g.sc.grps))
	for i, r := range g.sc.grps {
		lists[i] = g.cands(r)
	}
	if assigned, fail := g.match(lists); fail >= 0 {
		r := g.sc.grps[fail]
		return &NeverFitsError{Group: fail, Wanted: r.count, Matching: len(assigned[fail]), Candidates: r.total, Down: r.down}
	}
	return nil
}

// earliest is the first-fit start of an as-soon-as-possible request. It
// always finds one once neverFits passed; ok false would be a bug.
func (g *Gantt) earliest(now, w int64, overlap bool) (t int64, ok bool) {
	sc := &g.sc
	if !overlap && g.fitsNow(now, w) {
		return now, true
	}
	if !overlap {
		g.feasible(now, w, 0)
		// Every group's windows end with [T, forever), so acc is never empty.
		if len(sc.acc) == 0 {
			return 0, false
		}
		return sc.acc[0].a, true
	}
	// Groups share candidates. By Hall's theorem the groups can all be
	// served at t exactly when, for every subset of groups, the union of
	// their candidates has at least the sum of their counts free at t: with
	// few groups, intersect the windows of every subset and take the first.
	if len(sc.grps) <= hallMaxGroups {
		g.hallWindows(now, w)
		if len(sc.acc) == 0 {
			return 0, false
		}
		return sc.acc[0].a, true
	}
	// Many groups: each having enough free nodes (acc) is necessary, not
	// sufficient. Try in order the times inside acc at which a node becomes
	// able to start. First those up to the latest group T (the per-node
	// windows are complete up to there), then, rarely, the later ones: at
	// the latest tail everything is free and neverFits passed, so one fits.
	horizon := int64(0)
	for i := range sc.grps {
		horizon = max(horizon, g.groupT(i, now))
	}
	if t, ok := g.tryTimes(now, w, horizon, -1); ok {
		return t, true
	}
	return g.tryTimes(now, w, forever, horizon)
}

// feasible sets sc.acc to the start times at which every group, on its own,
// has enough free candidates, and sc.nodeWins to the per-node windows,
// complete up to max(T, horizon) for each group.
func (g *Gantt) feasible(now, w, horizon int64) {
	sc := &g.sc
	sc.nodeWins = sc.nodeWins[:0]
	for i := range sc.grps {
		r := &sc.grps[i]
		sc.wins = g.startWindows(g.cands(*r), r.count, now, w, horizon, r, sc.wins[:0])
		if i == 0 {
			sc.acc = append(sc.acc[:0], sc.wins...)
		} else {
			sc.tmp = intersect(sc.acc, sc.wins, sc.tmp[:0])
			sc.acc, sc.tmp = sc.tmp, sc.acc
		}
	}
}

// hallHolds reports whether, for every subset of two or more groups, the
// union of their up candidates holds the sum of their counts (single groups
// are checked by the caller). Past hallMaxGroups it says false, leaving the
// answer to a matching.
func (g *Gantt) hallHolds() bool {
	sc := &g.sc
	if len(sc.grps) > hallMaxGroups {
		return false
	}
	for mask := 1; mask < 1<<len(sc.grps); mask++ {
		if mask&(mask-1) == 0 {
			continue
		}
		ep := g.nextEpoch()
		need, have := 0, 0
		for gi, r := range sc.grps {
			if mask&(1<<gi) == 0 {
				continue
			}
			need += r.count
			for _, n := range g.cands(r) {
				if !sc.mark(n, ep, 0) {
					have++
				}
			}
		}
		if have < need {
			return false
		}
	}
	return true
}

// hallMaxGroups bounds the subsets hallWindows sweeps (2^n - 1 of them).
const hallMaxGroups = 4

// hallWindows sets sc.acc to the start times at which every subset of the
// groups has enough free candidates in its union, which is exactly when a
// matching exists. Single groups also record their per-node windows.
func (g *Gantt) hallWindows(now, w int64) {
	sc := &g.sc
	sc.nodeWins = sc.nodeWins[:0]
	for mask := 1; mask < 1<<len(sc.grps); mask++ {
		var cands []int32
		var rec *grp
		k := 0
		if mask&(mask-1) == 0 {
			gi := bits.TrailingZeros(uint(mask))
			rec = &sc.grps[gi]
			cands, k = g.cands(*rec), rec.count
		} else {
			ep := g.nextEpoch()
			sc.union = sc.union[:0]
			for gi, r := range sc.grps {
				if mask&(1<<gi) == 0 {
					continue
				}
				k += r.count
				for _, n := range g.cands(r) {
					if !sc.mark(n, ep, 0) {
						sc.union = append(sc.union, n)
					}
				}
			}
			cands = sc.union
		}
		sc.wins = g.startWindows(cands, k, now, w, 0, rec, sc.wins[:0])
		if mask == 1 {
			sc.acc = append(sc.acc[:0], sc.wins...)
		} else {
			sc.tmp = intersect(sc.acc, sc.wins, sc.tmp[:0])
			sc.acc, sc.tmp = sc.tmp, sc.acc
		}
	}
}

// groupT is when count of group gi's candidates are free for good.
func (g *Gantt) groupT(gi int, now int64) int64 {
	sc := &g.sc
	r := sc.grps[gi]
	sc.sel = sc.sel[:0]
	for _, n := range g.cands(r) {
		sc.sel = append(sc.sel, max(g.nodes[n].last, now))
	}
	return kth(sc.sel, r.count-1)
}

// tryTimes looks, for groups sharing candidates, for the earliest start in
// (after, horizon] at which a matching exists.
func (g *Gantt) tryTimes(now, w, horizon, after int64) (int64, bool) {
	sc := &g.sc
	g.feasible(now, w, horizon)
	// The times come off a heap: usually one of the first few fits, and
	// sorting them all would cost more than the search.
	times := minHeap(append(sc.starts[:0], now))
	for _, nw := range sc.nodeWins {
		times = append(times, nw.a)
	}
	sc.starts = times
	times.init()
	k, last := 0, after
	for len(times) > 0 {
		t := times.pop()
		if t <= last || t > horizon {
			continue
		}
		last = t
		for k < len(sc.acc) && sc.acc[k].b <= t {
			k++
		}
		if k == len(sc.acc) || t < sc.acc[k].a {
			continue
		}
		if ok, _ := g.choose(t, t+w, false, true); ok {
			return t, true
		}
	}
	return 0, false
}

// minHeap is a binary min-heap of times (container/heap without the
// interface calls).
type minHeap []int64

func (h minHeap) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h *minHeap) pop() int64 {
	old := *h
	top := old[0]
	n := len(old) - 1
	old[0] = old[n]
	*h = old[:n]
	h.down(0)
	return top
}

func (h minHeap) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		c := l
		if r := l + 1; r < len(h) && h[r] < h[l] {
			c = r
		}
		if h[i] <= h[c] {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}

// fitsNow is a quick test on the nodes' cached summaries: whether each group
// has enough candidates certainly free over [now, now+w), either free for
// good or busy only after now+w. The common answer on a quiet testbed.
func (g *Gantt) fitsNow(now, w int64) bool {
	for _, r := range g.sc.grps {
		free := 0
		for _, n := range g.cands(r) {
			nd := &g.nodes[n]
			if nd.last <= now || nd.first >= now+w {
				if free++; free == r.count {
					break
				}
			}
		}
		if free < r.count {
			return false
		}
	}
	return true
}

// startWindows returns the sorted, disjoint windows of start times t >= now at
// which at least k of cands are free over [t, t+w), ignoring besteffort
// intervals (only admin and default requests search). The last window is
// always [T, forever), T being when k of the candidates are free for good.
//
// A node can start at t when t lies in [gap start, gap end - w] of one of its
// gaps; the number of such nodes only increases at a gap start, so the windows
// come from a sweep over the gaps' bounds. Only gaps that open by T matter,
// which keeps the sweep short on both a busy and an idle schedule.
//
// When cands are a group's (r not nil), the per-node windows go to
// sc.nodeWins, complete up to max(T, horizon), and r records where.
func (g *Gantt) startWindows(cands []int32, k int, now, w, horizon int64, r *grp, out []win) []win {
	sc := &g.sc
	sc.tails = sc.tails[:0]
	for _, n := range cands {
		sc.tails = append(sc.tails, max(g.nodes[n].last, now))
	}
	sc.sel = append(sc.sel[:0], sc.tails...)
	T := kth(sc.sel, k-1)
	if T <= now && horizon <= now {
		return append(out, win{now, forever})
	}
	limit := max(T, horizon)
	// nodeWins are appended only for a group; record is a no-op otherwise.
	nw := sc.nodeWins
	record := func(pos int, a, b int64) {
		if r != nil {
			nw = append(nw, nodeWin{int32(pos), a, b})
		}
	}
	starts, ends := sc.starts[:0], sc.ends[:0]
	for i, n := range cands {
		if sc.tails[i] <= now {
			starts = append(starts, now)
			record(i, now, forever)
			continue
		}
		nd := &g.nodes[n]
		if nd.maxGap < w && nd.first-now < w {
			// No gap long enough before its tail: skip reading its intervals.
			if sc.tails[i] <= limit {
				starts = append(starts, sc.tails[i])
				record(i, sc.tails[i], forever)
			}
			continue
		}
		sp := nd.busy.iv // not empty: the node is busy after now
		j := 0
		if sp[0].e <= now {
			j = firstEndAfter(sp, now)
		}
		prev := now
		for ; j < len(sp) && prev <= limit; j++ {
			x := sp[j]
			if x.s-prev >= w {
				starts = append(starts, prev)
				ends = append(ends, x.s-w+1)
				record(i, prev, x.s-w+1)
			}
			prev = max(prev, x.e)
		}
		if j == len(sp) && prev <= limit {
			starts = append(starts, prev) // free for good from prev
			record(i, prev, forever)
		}
	}
	if r != nil {
		r.hasWins, r.T, r.wlo, r.whi = true, T, len(sc.nodeWins), len(nw)
		sc.nodeWins = nw
	}
	slices.Sort(starts)
	slices.Sort(ends)
	sc.starts, sc.ends = starts, ends
	cov, i, j := 0, 0, 0
	var open int64
	for i < len(starts) || j < len(ends) {
		// At equal times a window closing (exclusive end) goes before one opening.
		if j < len(ends) && (i == len(starts) || ends[j] <= starts[i]) {
			t := ends[j]
			j++
			cov--
			if cov == k-1 && open < T {
				out = appendWin(out, open, min(t, T))
			}
		} else {
			t := starts[i]
			i++
			cov++
			if cov == k {
				open = t
			}
		}
	}
	if cov >= k && open < T {
		out = appendWin(out, open, T)
	}
	return appendWin(out, T, forever)
}

func appendWin(out []win, a, b int64) []win {
	if a >= b {
		return out
	}
	if n := len(out); n > 0 && out[n-1].b >= a {
		out[n-1].b = max(out[n-1].b, b)
		return out
	}
	return append(out, win{a, b})
}

func intersect(x, y, out []win) []win {
	i, j := 0, 0
	for i < len(x) && j < len(y) {
		a, b := max(x[i].a, y[j].a), min(x[i].b, y[j].b)
		if a < b {
			out = append(out, win{a, b})
		}
		if x[i].b < y[j].b {
			i++
		} else {
			j++
		}
	}
	return out
}

// kth returns the k-th smallest value (0-based) of a, reordering a.
func kth(a []int64, k int) int64 {
	lo, hi := 0, len(a)-1
	for lo < hi {
		// Median of three as pivot, then a Hoare partition.
		m := int(uint(lo+hi) >> 1)
		if a[m] < a[lo] {
			a[m], a[lo] = a[lo], a[m]
		}
		if a[hi] < a[lo] {
			a[hi], a[lo] = a[lo], a[hi]
		}
		if a[hi] < a[m] {
			a[hi], a[m] = a[m], a[hi]
		}
		p := a[m]
		i, j := lo, hi
		for i <= j {
			for a[i] < p {
				i++
			}
			for a[j] > p {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return a[k]
		}
	}
	return a[k]
}

// freeOver reports whether node n can be given [t, e): free, or held only by
// besteffort allocations that an admin or default request preempts (pre).
func (g *Gantt) freeOver(n int32, t, e int64, be bool) (free, pre bool) {
	nd := &g.nodes[n]
	if j, k := nd.busy.overlapping(t, e); k > j {
		return false, false
	}
	if j, k := nd.be.overlapping(t, e); k > j {
		return !be, !be
	}
	return true, false
}

func (g *Gantt) countFree(r grp, t, e int64, be bool) int {
	free := 0
	for _, n := range g.cands(r) {
		if ok, _ := g.freeOver(n, t, e, be); ok {
			free++
		}
	}
	return free
}

// choose picks the nodes of every group for [t, e) into sc.chosen, in group
// order, preferring nodes that preempt nothing, then the candidates' order.
// It reports the first group it cannot satisfy.
func (g *Gantt) choose(t, e int64, be, overlap bool) (ok bool, failed int) {
	sc := &g.sc
	sc.chosen = sc.chosen[:0]
	if !overlap {
		for gi := range sc.grps {
			if !g.chooseGroup(gi, t, e, be) {
				return false, gi
			}
		}
		return true, -1
	}
	lists := make([][]int32, len(sc.grps))
	for gi, r := range sc.grps {
		var clean, pre []int32
		for _, n := range g.cands(r) {
			if free, p := g.freeOver(n, t, e, be); free && p {
				pre = append(pre, n)
			} else if free {
				clean = append(clean, n)
			}
		}
		lists[gi] = append(clean, pre...)
	}
	assigned, fail := g.match(lists)
	if fail >= 0 {
		return false, fail
	}
	for _, a := range assigned {
		sc.chosen = append(sc.chosen, a...)
	}
	return true, -1
}

// chooseGroup appends to sc.chosen the nodes of group gi for [t, e): those
// that preempt nothing first, in candidate order, then preempting ones.
func (g *Gantt) chooseGroup(gi int, t, e int64, be bool) bool {
	sc := &g.sc
	r := sc.grps[gi]
	cands := g.cands(r)
	clean := 0
	pre := sc.pre[:0]
	take := func(n int32) (done bool) {
		if !be && len(g.nodes[n].be.iv) > 0 && g.holdsBestEffort(n, t, e) {
			pre = append(pre, n)
			return false
		}
		sc.chosen = append(sc.chosen, n)
		clean++
		return clean == r.count
	}
	if r.hasWins && t <= r.T && !be {
		// The windows startWindows found are complete up to T.
		for _, nw := range sc.nodeWins[r.wlo:r.whi] {
			if nw.a <= t && t < nw.b && take(cands[nw.pos]) {
				break
			}
		}
	} else {
		for _, n := range cands {
			nd := &g.nodes[n]
			free := nd.last <= t
			if be {
				free = nd.lastAll <= t
			}
			if !free {
				free, _ = g.freeOver(n, t, e, be)
			}
			if free && take(n) {
				break
			}
		}
	}
	sc.pre = pre
	if need := r.count - clean; need > 0 {
		if len(pre) < need {
			return false
		}
		sc.chosen = append(sc.chosen, pre[:need]...)
	}
	return true
}

// holdsBestEffort reports whether a besteffort allocation holds node n
// during [t, e).
func (g *Gantt) holdsBestEffort(n int32, t, e int64) bool {
	j, k := g.nodes[n].be.overlapping(t, e)
	return k > j
}

// match gives each group sc.grps[i].count distinct nodes from lists[i] (in
// preference order), by augmenting paths: a bipartite matching where groups
// have capacities. It returns the assignment, each group's nodes in list
// order, or the first group it cannot fill and what that group got.
func (g *Gantt) match(lists [][]int32) (assigned [][]int32, fail int) {
	sc := &g.sc
	if len(sc.owner) < len(g.nodes) {
		sc.owner = make([]int32, len(g.nodes)+len(g.nodes)/2)
		sc.ownEp = make([]uint32, len(sc.owner))
	}
	if sc.matchEp++; sc.matchEp == 0 {
		clear(sc.ownEp)
		sc.matchEp = 1
	}
	mep := sc.matchEp
	sc.sizeMarks(len(g.nodes))
	assigned = make([][]int32, len(lists))
	var visit uint32
	var augment func(gi int) bool
	augment = func(gi int) bool {
		// A free node first, in preference order: a group keeps the nodes it
		// prefers unless another group has no other way.
		for _, n := range lists[gi] {
			if sc.ownEp[n] != mep {
				sc.owner[n], sc.ownEp[n] = int32(gi), mep
				assigned[gi] = append(assigned[gi], n)
				return true
			}
		}
		for _, n := range lists[gi] {
			if sc.marks[n] == visit {
				continue
			}
			sc.marks[n] = visit
			o, taken := int(sc.owner[n]), sc.ownEp[n] == mep
			if taken && o == gi {
				continue
			}
			if !taken || augment(o) {
				if taken {
					assigned[o] = slices.DeleteFunc(assigned[o], func(x int32) bool { return x == n })
				}
				sc.owner[n], sc.ownEp[n] = int32(gi), mep
				assigned[gi] = append(assigned[gi], n)
				return true
			}
		}
		return false
	}
	for gi := range lists {
		for range sc.grps[gi].count {
			visit = g.nextEpoch()
			if !augment(gi) {
				return assigned, gi
			}
		}
	}
	// Put each group's nodes back in its preference order.
	for gi, l := range lists {
		a := assigned[gi][:0]
		for _, n := range l {
			if sc.ownEp[n] == mep && int(sc.owner[n]) == gi {
				a = append(a, n)
			}
		}
		assigned[gi] = a
	}
	return assigned, -1
}

// Schedule places and commits a batch of requests in queue priority order
// (admin, then default, then besteffort; the given order within a queue), as
// a scheduling round does with the pending reservations. The decisions are
// returned in the order of reqs.
func (g *Gantt) Schedule(reqs []Request, now time.Time, pol Policy) []Decision {
	order := make([]int, len(reqs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return reqs[b].Queue.Priority() - reqs[a].Queue.Priority()
	})
	out := make([]Decision, len(reqs))
	for _, i := range order {
		p, err := g.Place(reqs[i], now, pol)
		if err == nil {
			err = g.Commit(p)
		}
		if err != nil {
			out[i] = Decision{Err: err}
			continue
		}
		out[i] = Decision{Placement: p}
	}
	return out
}
