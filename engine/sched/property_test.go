package sched

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// The property test drives a Gantt with long random streams of operations
// and checks every answer against an independent model: a plain list of
// allocations and brute-force rules written from the package documentation,
// sharing no code with the scheduler. After every operation the Gantt must pass
// Check, a pairwise overlap check of Allocations, and equal the model.

const min_ = time.Minute

type world struct {
	t        *testing.T
	rng      *rand.Rand
	g        *Gantt
	pol      Policy
	now      time.Time
	model    map[string]Allocation
	down     map[string]bool
	clusters [][]string
	all      []string
	seq      int
	stats    map[string]int
	op       int
}

func TestPropertyRandomStreams(t *testing.T) {
	ops := 5000
	if testing.Short() {
		ops = 800
	}
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			w := newWorld(t, seed)
			for w.op = 0; w.op < ops; w.op++ {
				w.step()
				w.checkState()
			}
			// The stream must have exercised every rule, or it proves little.
			for _, k := range []string{
				"asap", "asap-later", "advance", "advance-conflict", "past", "besteffort",
				"besteffort-conflict", "preempt", "never-fits", "walltime", "bad",
				"shared-groups", "multi-group", "many-shared-groups", "many-shared-placed", "resize-extend", "resize-shorten",
				"resize-conflict", "resize-preempt", "add", "add-conflict", "down", "schedule",
			} {
				if w.stats[k] == 0 {
					t.Errorf("stream never exercised %q: %v", k, w.stats)
				}
			}
			t.Logf("%v", w.stats)
		})
	}
}

func newWorld(t *testing.T, seed uint64) *world {
	w := &world{
		t:   t,
		rng: rand.New(rand.NewPCG(seed, 0x5eed)),
		g:   NewGantt(),
		pol: Policy{MaxWalltime: map[Queue]time.Duration{
			QueueAdmin: 240 * min_, QueueDefault: 120 * min_, QueueBestEffort: 90 * min_}},
		now:   t0,
		model: map[string]Allocation{},
		down:  map[string]bool{},
		stats: map[string]int{},
	}
	// The last cluster is long enough for the resolved-candidates cache.
	for c, size := range []int{8, 8, 6, cacheMinLen + 4} {
		var cl []string
		for i := range size {
			n := fmt.Sprintf("%c%d", 'p'+c, i)
			cl = append(cl, n)
			w.all = append(w.all, n)
		}
		w.clusters = append(w.clusters, cl)
	}
	return w
}

func (w *world) fatalf(format string, args ...any) {
	w.t.Helper()
	w.t.Fatalf("op %d, now %s: %s\nschedule:\n%s", w.op, w.now.Format("15:04"), fmt.Sprintf(format, args...), w.g)
}

func (w *world) step() {
	switch x := w.rng.IntN(100); {
	case x < 45:
		w.place()
	case x < 52:
		w.remove()
	case x < 67:
		w.resize()
	case x < 72:
		w.toggleDown()
	case x < 79:
		w.add()
	case x < 83:
		w.schedule()
	default:
		w.tick()
	}
}

func (w *world) newID() string {
	w.seq++
	return fmt.Sprintf("j%d", w.seq)
}

func (w *world) sample(from []string, n int) []string {
	s := slices.Clone(from)
	w.rng.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	return s[:min(n, len(s))]
}

func (w *world) randRequest() Request {
	r := w.rng
	req := Request{ID: w.newID(), Walltime: w.duration(90)}
	switch x := r.IntN(100); {
	case x < 15:
		req.Queue = QueueAdmin
	case x < 65:
		req.Queue = QueueDefault
	case x < 98:
		req.Queue = QueueBestEffort
	default:
		req.Queue = "production"
	}
	ng := 1
	if x := r.IntN(10); x >= 9 {
		ng = 3
	} else if x >= 6 {
		ng = 2
	}
	perm := r.Perm(len(w.clusters))
	many := r.IntN(25) == 0 // more groups than the Hall sweep handles
	if many {
		ng = hallMaxGroups + 1 + r.IntN(2)
	}
	for i := range ng {
		var cands []string
		if many {
			cands = w.sample(w.clusters[0], 2+r.IntN(5))
		} else if r.IntN(5) == 0 {
			cands = w.sample(w.all, 1+r.IntN(6)) // across clusters: may share nodes with other groups
		} else {
			cl := w.clusters[perm[i]]
			switch {
			case len(cl) < cacheMinLen:
				cands = w.sample(cl, 1+r.IntN(len(cl)))
			case r.IntN(3) > 0:
				// The same slice again and again, as a caller caching its
				// inventory would pass; sometimes reordered in place, which
				// the cache must notice.
				if r.IntN(8) == 0 {
					a, b := r.IntN(len(cl)), r.IntN(len(cl))
					cl[a], cl[b] = cl[b], cl[a]
				}
				cands = cl
			default:
				cands = w.sample(cl, cacheMinLen+r.IntN(len(cl)-cacheMinLen+1))
			}
		}
		if r.IntN(20) == 0 {
			cands = append(slices.Clone(cands), cands[0])
		}
		count := 1 + r.IntN(min(4, len(cands)))
		if many {
			count = 1 + r.IntN(2)
		} else if r.IntN(10) == 0 {
			count = len(cands) + 1 // more than it can ever get
		}
		req.Groups = append(req.Groups, Group{Count: count, Candidates: cands})
	}
	if r.IntN(3) == 0 {
		req.Start = w.now.Add(w.duration(240) - 10*min_)
	}
	switch r.IntN(40) {
	case 0:
		req.Walltime = w.pol.MaxWalltime[req.Queue] + min_
	case 1:
		req.Walltime = 0
	case 2:
		req.Groups[0].Count = 0
	case 3:
		req.ID = w.anyID()
	}
	return req
}

// duration is a random duration in (0, max]: mostly a multiple of 5 minutes,
// so that intervals often meet exactly and the exclusive ends are exercised,
// sometimes any number of minutes.
func (w *world) duration(max int) time.Duration {
	if w.rng.IntN(4) == 0 {
		return time.Duration(1+w.rng.IntN(max)) * min_
	}
	return time.Duration(5*(1+w.rng.IntN(max/5))) * min_
}

func (w *world) anyID() string {
	ids := w.ids()
	if len(ids) == 0 {
		return "nope"
	}
	return ids[w.rng.IntN(len(ids))]
}

func (w *world) ids() []string {
	var ids []string
	for id := range w.model {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (w *world) place() {
	req := w.randRequest()
	p, err := w.g.Place(req, w.now, w.pol)
	if !w.verifyPlace(req, p, err) {
		return
	}
	if w.rng.IntN(10) == 0 {
		return // a caller may decide not to commit
	}
	if err := w.g.Commit(p); err != nil {
		w.fatalf("Commit of a fresh placement: %v", err)
	}
	w.apply(p)
}

// schedule runs a small batch; the model replays it in priority order.
func (w *world) schedule() {
	w.stats["schedule"]++
	reqs := make([]Request, 2+w.rng.IntN(3))
	for i := range reqs {
		reqs[i] = w.randRequest()
		if _, ok := w.model[reqs[i].ID]; ok {
			reqs[i].ID = w.newID() // duplicate ids are covered by place
		}
	}
	ds := w.g.Schedule(reqs, w.now, w.pol)
	order := make([]int, len(reqs))
	for i := range order {
		order[i] = i
	}
	rank := map[Queue]int{QueueAdmin: 0, QueueDefault: 1, QueueBestEffort: 2}
	slices.SortStableFunc(order, func(a, b int) int {
		ra, ok := rank[reqs[a].Queue]
		if !ok {
			ra = 3
		}
		rb, ok := rank[reqs[b].Queue]
		if !ok {
			rb = 3
		}
		return ra - rb
	})
	for _, i := range order {
		if w.verifyPlace(reqs[i], ds[i].Placement, ds[i].Err) {
			w.apply(ds[i].Placement)
		}
	}
}

// apply records a committed placement in the model: preempted besteffort
// allocations end at its start, or vanish if they had not started by then.
func (w *world) apply(p Placement) {
	for _, id := range p.Preempt {
		b := w.model[id]
		if !b.Start.Before(p.Start) {
			delete(w.model, id)
		} else {
			b.End = p.Start
			w.model[id] = b
		}
	}
	w.model[p.ID] = cloneAlloc(p.Allocation)
}

func cloneAlloc(a Allocation) Allocation {
	a.Nodes = slices.Clone(a.Nodes)
	return a
}

// busy lists, from the model, the allocations on node n that overlap [s, e);
// besteffort ones only if withBE.
func (w *world) busy(n string, s, e time.Time, withBE bool) []Allocation {
	var out []Allocation
	for _, a := range w.model {
		if !slices.Contains(a.Nodes, n) || !a.Start.Before(e) || !s.Before(a.End) {
			continue
		}
		if a.Queue == QueueBestEffort && !withBE {
			continue
		}
		out = append(out, a)
	}
	slices.SortFunc(out, func(x, y Allocation) int { return cmp.Compare(x.ID, y.ID) })
	return out
}

// hall tells whether every group can get count distinct nodes of its set:
// Hall's condition over every subset of groups.
func hall(sets [][]string, counts []int) bool {
	for mask := 1; mask < 1<<len(sets); mask++ {
		union := map[string]bool{}
		need := 0
		for i := range sets {
			if mask&(1<<i) != 0 {
				need += counts[i]
				for _, n := range sets[i] {
					union[n] = true
				}
			}
		}
		if len(union) < need {
			return false
		}
	}
	return true
}

func (w *world) verifyPlace(req Request, p Placement, err error) (placed bool) {
	w.t.Helper()
	be := req.Queue == QueueBestEffort
	max, open := w.pol.MaxWalltime[req.Queue]

	// Malformed requests: the error must be one of the applicable kinds.
	var faults []string
	_, exists := w.model[req.ID]
	if exists || req.Queue.Priority() < 0 || !open || req.Walltime <= 0 || len(req.Groups) == 0 || (be && !req.Start.IsZero()) {
		faults = append(faults, "bad")
	}
	for _, gr := range req.Groups {
		if gr.Count < 1 || slices.Contains(gr.Candidates, "") {
			faults = append(faults, "bad")
		}
	}
	if open && max > 0 && req.Walltime > max {
		faults = append(faults, "walltime")
	}
	if !be && !req.Start.IsZero() && req.Start.Before(w.now) {
		faults = append(faults, "past")
	}
	if len(faults) > 0 {
		var we *WalltimeError
		switch {
		case err == nil:
			w.fatalf("%+v placed despite %v", req, faults)
		case errors.Is(err, ErrBadRequest) && slices.Contains(faults, "bad"):
			w.stats["bad"]++
		case errors.Is(err, ErrStartInPast) && slices.Contains(faults, "past"):
			w.stats["past"]++
		case errors.As(err, &we) && slices.Contains(faults, "walltime"):
			w.stats["walltime"]++
		default:
			w.fatalf("%+v: error %v, want one of %v", req, err, faults)
		}
		return false
	}

	// Each group's distinct, up candidates.
	ups := make([][]string, len(req.Groups))
	counts := make([]int, len(req.Groups))
	owner := map[string]int{}
	shared := false
	for i, gr := range req.Groups {
		counts[i] = gr.Count
		for _, n := range gr.Candidates {
			if o, ok := owner[n]; ok && o != i {
				shared = true
			}
			owner[n] = i
			if !w.down[n] && !slices.Contains(ups[i], n) {
				ups[i] = append(ups[i], n)
			}
		}
	}
	if shared {
		w.stats["shared-groups"]++
	}
	if len(req.Groups) > 1 {
		w.stats["multi-group"]++
	}
	if len(req.Groups) > hallMaxGroups && shared {
		w.stats["many-shared-groups"]++
	}
	if !hall(ups, counts) {
		var nf *NeverFitsError
		if !errors.As(err, &nf) {
			w.fatalf("%+v can never fit, got %v / %+v", req, err, p)
		}
		w.stats["never-fits"]++
		return false
	}

	freeSets := func(s time.Time) [][]string {
		e := s.Add(req.Walltime)
		out := make([][]string, len(ups))
		for i, set := range ups {
			for _, n := range set {
				if len(w.busy(n, s, e, be)) == 0 {
					out[i] = append(out[i], n)
				}
			}
		}
		return out
	}
	fits := func(s time.Time) bool { return hall(freeSets(s), counts) }

	var want time.Time
	switch {
	case be || !req.Start.IsZero():
		want = w.now
		if !req.Start.IsZero() {
			want = req.Start
		}
		if !fits(want) {
			var ce *ConflictError
			if !errors.As(err, &ce) {
				w.fatalf("%+v does not fit at %s, got %v / %+v", req, want, err, p)
			}
			if ce.Group < 0 || ce.Group >= len(req.Groups) || ce.Free != len(freeSets(want)[ce.Group]) {
				w.fatalf("%+v: conflict %+v, free sets %v", req, ce, freeSets(want))
			}
			if be {
				w.stats["besteffort-conflict"]++
			} else {
				w.stats["advance-conflict"]++
			}
			return false
		}
		if be {
			w.stats["besteffort"]++
		} else {
			w.stats["advance"]++
		}
	default:
		// First fit: the earliest of now and the ends of non-besteffort
		// allocations on candidate nodes at which the request fits.
		times := []time.Time{w.now}
		for _, a := range w.model {
			if a.Queue == QueueBestEffort || !a.End.After(w.now) {
				continue
			}
			for _, set := range ups {
				for _, n := range set {
					if slices.Contains(a.Nodes, n) {
						times = append(times, a.End)
					}
				}
			}
		}
		slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
		found := false
		for _, s := range times {
			if fits(s) {
				want, found = s, true
				break
			}
		}
		if !found {
			w.fatalf("oracle: %+v fits nowhere", req)
		}
		w.stats["asap"]++
		if want.After(w.now) {
			w.stats["asap-later"]++
		}
	}
	if err != nil {
		w.fatalf("%+v fits at %s, got %v", req, want, err)
	}

	// The placement itself.
	end := want.Add(req.Walltime)
	if p.ID != req.ID || p.Queue != req.Queue || !p.Start.Equal(want) || !p.End.Equal(end) {
		w.fatalf("%+v: placed %s %s [%s, %s), want [%s, %s)", req, p.ID, p.Queue, p.Start, p.End, want, end)
	}
	total := 0
	for _, c := range counts {
		total += c
	}
	if len(p.Nodes) != total {
		w.fatalf("%+v: %d nodes %v, want %d", req, len(p.Nodes), p.Nodes, total)
	}
	var wantPre []string
	k := 0
	for i, c := range counts {
		for _, n := range p.Nodes[k : k+c] {
			if !slices.Contains(ups[i], n) {
				w.fatalf("%+v: node %s of group %d is not an up candidate of it", req, n, i)
			}
			if len(w.busy(n, want, end, be)) != 0 {
				w.fatalf("%+v: node %s is not free over [%s, %s)", req, n, want, end)
			}
			if !be {
				for _, b := range w.busy(n, want, end, true) {
					wantPre = append(wantPre, b.ID)
				}
			}
		}
		k += c
	}
	for i, n := range p.Nodes {
		if slices.Contains(p.Nodes[:i], n) {
			w.fatalf("%+v: node %s given twice: %v", req, n, p.Nodes)
		}
	}
	slices.Sort(wantPre)
	wantPre = slices.Compact(wantPre)
	if !slices.Equal(p.Preempt, wantPre) {
		w.fatalf("%+v: preempt %v, want %v", req, p.Preempt, wantPre)
	}
	if len(wantPre) > 0 {
		w.stats["preempt"]++
	}
	if len(req.Groups) > hallMaxGroups && shared {
		w.stats["many-shared-placed"]++
	}
	// Node preference, when groups share no candidate: in each group, idle
	// nodes first, then candidate order.
	if !shared {
		k := 0
		for i, c := range counts {
			var clean, pre []string
			for _, n := range ups[i] {
				switch {
				case len(w.busy(n, want, end, be)) != 0:
				case len(w.busy(n, want, end, true)) != 0:
					pre = append(pre, n)
				default:
					clean = append(clean, n)
				}
			}
			if pref := append(clean, pre...)[:c]; !slices.Equal(p.Nodes[k:k+c], pref) {
				w.fatalf("%+v: group %d got %v, preferred %v", req, i, p.Nodes[k:k+c], pref)
			}
			k += c
		}
	}
	return true
}

func (w *world) remove() {
	id := w.anyID()
	if w.rng.IntN(10) == 0 {
		id = "unknown"
	}
	w.g.Remove(id)
	delete(w.model, id)
}

func (w *world) resize() {
	id := w.anyID()
	a, ok := w.model[id]
	if !ok || w.rng.IntN(20) == 0 {
		_, err := w.g.Resize("unknown", w.now, w.pol)
		if !errors.Is(err, ErrNotFound) {
			w.fatalf("Resize(unknown): %v", err)
		}
		return
	}
	newEnd := a.Start.Add(w.duration(260) - 5*min_)
	if w.rng.IntN(3) == 0 {
		// Aim at a besteffort allocation that follows another one closely,
		// to exercise preemption by extension.
		type pair struct {
			a Allocation
			b time.Time
		}
		var pairs []pair
		for _, id := range w.ids() {
			x := w.model[id]
			if x.Queue == QueueBestEffort {
				continue
			}
			for _, n := range x.Nodes {
				for _, b := range w.busy(n, x.End, x.Start.Add(w.pol.MaxWalltime[x.Queue]), true) {
					if b.Queue == QueueBestEffort {
						pairs = append(pairs, pair{x, b.Start})
					}
				}
			}
		}
		if len(pairs) > 0 {
			p := pairs[w.rng.IntN(len(pairs))]
			a, id, newEnd = p.a, p.a.ID, p.b.Add(time.Duration(1+w.rng.IntN(10))*min_)
		}
	}
	pre, err := w.g.Resize(id, newEnd, w.pol)
	max := w.pol.MaxWalltime[a.Queue]
	switch {
	case !newEnd.After(a.Start):
		if !errors.Is(err, ErrBadRequest) {
			w.fatalf("Resize(%s) to its start: %v", id, err)
		}
		return
	case !newEnd.After(a.End):
		if err != nil || pre != nil {
			w.fatalf("shortening %s: %v %v", id, pre, err)
		}
		w.stats["resize-shorten"]++
	case newEnd.Sub(a.Start) > max:
		var we *WalltimeError
		if !errors.As(err, &we) {
			w.fatalf("extending %s over the limit: %v", id, err)
		}
		return
	default:
		be := a.Queue == QueueBestEffort
		var block, wantPre []string
		for _, n := range a.Nodes {
			for _, b := range w.busy(n, a.End, newEnd, true) {
				if b.Queue == QueueBestEffort && !be {
					wantPre = append(wantPre, b.ID)
				} else {
					block = append(block, b.ID)
				}
			}
		}
		slices.Sort(block)
		block = slices.Compact(block)
		slices.Sort(wantPre)
		wantPre = slices.Compact(wantPre)
		if len(block) > 0 {
			var ce *ConflictError
			if !errors.As(err, &ce) || !slices.Equal(ce.With, block) {
				w.fatalf("extending %s to %s blocked by %v, got %v", id, newEnd, block, err)
			}
			w.stats["resize-conflict"]++
			return
		}
		if err != nil || !slices.Equal(pre, wantPre) {
			w.fatalf("extending %s to %s: preempted %v, want %v, err %v", id, newEnd, pre, wantPre, err)
		}
		for _, b := range wantPre {
			delete(w.model, b)
		}
		w.stats["resize-extend"]++
		if len(wantPre) > 0 {
			w.stats["resize-preempt"]++
		}
	}
	a.End = newEnd
	w.model[id] = a
}

// toggleDown fails a node or repairs one; repairs are likelier, so that a
// few nodes are down at any time rather than half the testbed.
func (w *world) toggleDown() {
	var downs []string
	for _, n := range w.all {
		if w.down[n] {
			downs = append(downs, n)
		}
	}
	n := w.all[w.rng.IntN(len(w.all))]
	if len(downs) > 0 && w.rng.IntN(3) > 0 {
		n = downs[w.rng.IntN(len(downs))]
	}
	w.down[n] = !w.down[n]
	w.g.SetDown(n, w.down[n])
	w.stats["down"]++
}

func (w *world) add() {
	r := w.rng
	queues := []Queue{QueueAdmin, QueueDefault, QueueBestEffort}
	a := Allocation{ID: w.newID(), Queue: queues[r.IntN(3)], Nodes: w.sample(w.all, 1+r.IntN(3))}
	if r.IntN(15) == 0 {
		a.ID = w.anyID()
	}
	a.Start = w.now.Add(w.duration(300) - 60*min_)
	a.End = a.Start.Add(w.duration(60))
	err := w.g.Add(a)
	if _, ok := w.model[a.ID]; ok {
		if !errors.Is(err, ErrBadRequest) {
			w.fatalf("Add of existing %s: %v", a.ID, err)
		}
		return
	}
	var with []string
	for _, n := range a.Nodes {
		for _, b := range w.busy(n, a.Start, a.End, true) {
			with = append(with, b.ID)
		}
	}
	slices.Sort(with)
	with = slices.Compact(with)
	if len(with) > 0 {
		var ce *ConflictError
		if !errors.As(err, &ce) || !slices.Equal(ce.With, with) {
			w.fatalf("Add(%+v) overlaps %v, got %v", a, with, err)
		}
		w.stats["add-conflict"]++
		return
	}
	if err != nil {
		w.fatalf("Add(%+v): %v", a, err)
	}
	w.model[a.ID] = cloneAlloc(a)
	w.stats["add"]++
}

// tick moves time on; the caller removes some reservations that have ended.
func (w *world) tick() {
	w.now = w.now.Add(w.duration(60) - 5*min_)
	for _, id := range w.ids() {
		if !w.model[id].End.After(w.now) && w.rng.IntN(2) == 0 {
			w.g.Remove(id)
			delete(w.model, id)
		}
	}
}

// checkState: the Gantt's own invariant check, an independent pairwise
// overlap check, and equality with the model.
func (w *world) checkState() {
	w.t.Helper()
	if err := w.g.Check(); err != nil {
		w.fatalf("Check: %v", err)
	}
	got := w.g.Allocations()
	if err := bruteOverlap(got); err != nil {
		w.fatalf("double booking: %v", err)
	}
	if len(got) != len(w.model) {
		w.fatalf("Gantt holds %d allocations, model %d", len(got), len(w.model))
	}
	for _, a := range got {
		m, ok := w.model[a.ID]
		if !ok || m.Queue != a.Queue || !m.Start.Equal(a.Start) || !m.End.Equal(a.End) || !slices.Equal(m.Nodes, a.Nodes) {
			w.fatalf("Gantt has %+v, model %+v", a, m)
		}
	}
	if !slices.IsSortedFunc(got, func(x, y Allocation) int {
		return cmp.Or(x.Start.Compare(y.Start), cmp.Compare(x.ID, y.ID))
	}) {
		w.fatalf("Allocations not sorted")
	}
}

// bruteOverlap compares every pair of allocations.
func bruteOverlap(as []Allocation) error {
	for i := range as {
		for j := i + 1; j < len(as); j++ {
			a, b := as[i], as[j]
			if !a.Start.Before(b.End) || !b.Start.Before(a.End) {
				continue
			}
			for _, n := range a.Nodes {
				if slices.Contains(b.Nodes, n) {
					return fmt.Errorf("node %s in %s [%s, %s) and %s [%s, %s)", n,
						a.ID, a.Start, a.End, b.ID, b.Start, b.End)
				}
			}
		}
	}
	return nil
}

func TestBruteOverlapCatchesDoubleBooking(t *testing.T) {
	as := []Allocation{def("x", 0, 2*h, "a1", "a2"), def("y", 2*h, 3*h, "a2"), def("z", h, 3*h, "a3", "a1")}
	if err := bruteOverlap(as); err == nil {
		t.Fatal("pairwise checker missed x/z on a1")
	}
	if err := bruteOverlap(as[:2]); err != nil {
		t.Fatalf("adjacent intervals flagged: %v", err)
	}
}
