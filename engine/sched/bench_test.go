package sched

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// The benchmark testbed: 10 clusters of 1,000 nodes, holding 10,000
// allocations of 1-16 nodes each, placed by the scheduler itself so that the
// schedule looks like a real one (packed near-term work with backfilled gaps,
// advance reservations further out, some besteffort).

const (
	benchClusters = 10
	benchNodes    = 1000
	benchAllocs   = 10000
)

type benchBed struct {
	g        *Gantt
	clusters [][]string
	reqs     []Request
}

func benchRequest(rng *rand.Rand, clusters [][]string, id string, advanceShare int) Request {
	req := Request{
		ID:       id,
		Queue:    QueueDefault,
		Groups:   []Group{{Count: 1 + rng.IntN(16), Candidates: clusters[rng.IntN(len(clusters))]}},
		Walltime: time.Duration(1+rng.IntN(12)) * time.Hour,
	}
	switch x := rng.IntN(100); {
	case x < advanceShare:
		req.Start = t0.Add(time.Duration(rng.IntN(14*24*60)) * time.Minute)
	case x < advanceShare+5:
		req.Queue = QueueBestEffort
	case x < advanceShare+7:
		req.Queue = QueueAdmin
	}
	return req
}

// newBenchBed fills the testbed. advanceShare is the percentage of advance
// reservations among the 10,000 (the rest are mostly as soon as possible).
func newBenchBed(b *testing.B, advanceShare int) *benchBed {
	rng := rand.New(rand.NewPCG(42, uint64(advanceShare)))
	bed := &benchBed{g: NewGantt()}
	for c := range benchClusters {
		var names []string
		for i := range benchNodes {
			names = append(names, fmt.Sprintf("c%d-%d", c, i))
		}
		bed.clusters = append(bed.clusters, names)
	}
	pol := DefaultPolicy()
	for i := 0; len(bed.g.allocs) < benchAllocs; i++ {
		p, err := bed.g.Place(benchRequest(rng, bed.clusters, fmt.Sprintf("fill%d", i), advanceShare), t0, pol)
		if err != nil {
			continue // a conflicting advance or besteffort request: skip it
		}
		if err := bed.g.Commit(p); err != nil {
			b.Fatal(err)
		}
	}
	if err := bed.g.Check(); err != nil {
		b.Fatal(err)
	}
	for i := range 1024 {
		bed.reqs = append(bed.reqs, benchRequest(rng, bed.clusters, fmt.Sprintf("q%d", i), 20))
	}
	return bed
}

// BenchmarkPlace measures scheduling decisions (Place) on the 10,000-node
// testbed with 10,000 allocations: requests for 1-16 nodes among one
// cluster's 1,000 candidates, 20% of them advance reservations.
func BenchmarkPlace(b *testing.B) {
	for _, sc := range []struct {
		name    string
		advance int
	}{{"asap-filled", 0}, {"mixed", 50}} {
		b.Run(sc.name, func(b *testing.B) {
			bed := newBenchBed(b, sc.advance)
			pol := DefaultPolicy()
			now := t0.Add(time.Hour)
			n, placed := 0, 0
			cpu0 := cpuTime()
			for b.Loop() {
				if _, err := bed.g.Place(bed.reqs[n%len(bed.reqs)], now, pol); err == nil {
					placed++
				}
				n++
			}
			reportRate(b, n, cpuTime()-cpu0)
			b.ReportMetric(float64(placed)/float64(n), "placed/op")
		})
	}
}

// BenchmarkPlaceCommit measures a full decision: Place, Commit, and Remove to
// keep the schedule the same size.
func BenchmarkPlaceCommit(b *testing.B) {
	bed := newBenchBed(b, 50)
	pol := DefaultPolicy()
	now := t0.Add(time.Hour)
	n := 0
	cpu0 := cpuTime()
	for b.Loop() {
		req := bed.reqs[n%len(bed.reqs)]
		n++
		p, err := bed.g.Place(req, now, pol)
		if err != nil {
			continue
		}
		if err := bed.g.Commit(p); err != nil {
			b.Fatal(err)
		}
		// Preempted besteffort allocations stay shortened; there are few.
		bed.g.Remove(p.ID)
	}
	reportRate(b, n, cpuTime()-cpu0)
}

// reportRate reports decisions per second of wall time and of CPU time.
func reportRate(b *testing.B, n int, cpu time.Duration) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "decisions/s")
	if cpu > 0 {
		b.ReportMetric(float64(n)/cpu.Seconds(), "decisions/cpu-s")
	}
}

// BenchmarkPlaceSharedGroups measures the slower path of groups whose
// candidates overlap (here "4 nodes of a cluster and 2 of its first 100"),
// which needs a bipartite matching per tried start time.
func BenchmarkPlaceSharedGroups(b *testing.B) {
	bed := newBenchBed(b, 50)
	pol := DefaultPolicy()
	now := t0.Add(time.Hour)
	rng := rand.New(rand.NewPCG(7, 7))
	var reqs []Request
	for i := range 256 {
		c := bed.clusters[rng.IntN(len(bed.clusters))]
		reqs = append(reqs, Request{ID: fmt.Sprintf("s%d", i), Queue: QueueDefault, Walltime: time.Duration(1+rng.IntN(12)) * time.Hour,
			Groups: []Group{{Count: 1 + rng.IntN(8), Candidates: c}, {Count: 1 + rng.IntN(4), Candidates: c[:100]}}})
	}
	n := 0
	cpu0 := cpuTime()
	for b.Loop() {
		if _, err := bed.g.Place(reqs[n%len(reqs)], now, pol); err != nil {
			b.Fatal(err)
		}
		n++
	}
	reportRate(b, n, cpuTime()-cpu0)
}

// BenchmarkRebuild measures building the benchmark testbed's Gantt from its
// 10,000 allocations with Add, as a caller that rebuilds the schedule from the
// store for each decision does.
func BenchmarkRebuild(b *testing.B) {
	bed := newBenchBed(b, 50)
	allocs := bed.g.Allocations()
	for b.Loop() {
		g := NewGantt()
		for _, a := range allocs {
			if err := g.Add(a); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(allocs)), "allocations")
}
