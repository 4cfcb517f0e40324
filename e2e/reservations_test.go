//go:build e2e

package e2e

import (
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"
)

// TestConcurrentReservationsNeverOverlap: 50 reservations of 1 or 2 nodes with
// short walltimes are submitted at once against the 4-node cluster. Every one
// is placed, runs and ends, and no node is ever in two reservations whose
// [start_at, end_at) overlap. Prints the submission throughput and latency.
func TestConcurrentReservationsNeverOverlap(t *testing.T) {
	tb := startTestbed(t, 4)
	const n = 50
	type result struct {
		code    int
		latency time.Duration
		uid     string
		err     error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			body := map[string]any{"nodes": 1 + i%2, "cluster": cluster, "walltime": fmt.Sprint(1 + i%3), "name": fmt.Sprintf("load-%02d", i)}
			var r reservation
			t0 := time.Now()
			code, _, err := tb.call("POST", "/v1/sites/"+site+"/reservations", body, &r)
			results[i] = result{code: code, latency: time.Since(t0), uid: r.UID, err: err}
		}()
	}
	start := time.Now()
	close(gate)
	wg.Wait()
	wall := time.Since(start)

	codes := map[int]int{}
	var lat []time.Duration
	fivexx := 0
	uids := map[string]bool{}
	for i, r := range results {
		if r.err != nil {
			t.Errorf("submission %d: %v", i, r.err)
			continue
		}
		codes[r.code]++
		lat = append(lat, r.latency)
		if r.code >= 500 {
			fivexx++
		}
		if r.code == 201 {
			uids[r.uid] = true
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	t.Logf("LOAD: %d concurrent reservation submissions in %s: %.1f requests/s, latency p50 %s p99 %s max %s, 5xx %d, status codes %v",
		n, wall.Round(time.Millisecond), float64(n)/wall.Seconds(), pct(0.50).Round(time.Millisecond),
		pct(0.99).Round(time.Millisecond), pct(1).Round(time.Millisecond), fivexx, codes)
	record(t, sectionLoad, fmt.Sprintf("%d concurrent reservation submissions", n),
		"%.1f requests/s, p50 %s, p99 %s, %d 5xx, codes %v", float64(n)/wall.Seconds(),
		pct(0.50).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), fivexx, codes)
	if fivexx > 0 || codes[201] != n || len(uids) != n {
		t.Fatalf("want %d distinct 201s, got %v (%d distinct uids)", n, codes, len(uids))
	}

	// Each one runs and ends at its walltime; the schedule is ~1 minute long.
	var rs []reservation
	eventually(t, "every reservation ended", 4*time.Minute, time.Second, func() (bool, string) {
		rs = tb.reservations()
		states := map[string]int{}
		ended := 0
		for _, r := range rs {
			states[r.State]++
			if r.State == "terminated" || r.State == "canceled" || r.State == "error" {
				ended++
			}
		}
		return ended == len(rs) && len(rs) >= n, fmt.Sprint(states)
	})
	states := map[string]int{}
	for _, r := range rs {
		states[r.State]++
		if !uids[r.UID] {
			t.Errorf("reservation %s was not submitted by this test", r.UID)
		}
		if r.State != "terminated" {
			t.Errorf("reservation %s ended %s (%s), want terminated at its walltime", r.UID, r.State, r.Reason)
		}
		if len(r.Nodes) == 0 || !r.StartAt.Before(r.EndAt) {
			t.Errorf("reservation %s: nodes %v, window [%s, %s)", r.UID, r.Nodes, r.StartAt, r.EndAt)
		}
	}

	// No node in two overlapping reservations.
	overlaps := 0
	byNode := map[string][]reservation{}
	for _, r := range rs {
		for _, node := range r.Nodes {
			byNode[node] = append(byNode[node], r)
		}
	}
	for node, list := range byNode {
		for i := range list {
			for j := i + 1; j < len(list); j++ {
				a, b := list[i], list[j]
				if a.StartAt.Before(b.EndAt) && b.StartAt.Before(a.EndAt) {
					overlaps++
					if overlaps <= 10 {
						t.Errorf("node %s is in %s [%s, %s) and %s [%s, %s)", node,
							a.UID, a.StartAt.Format(time.StampMilli), a.EndAt.Format(time.StampMilli),
							b.UID, b.StartAt.Format(time.StampMilli), b.EndAt.Format(time.StampMilli))
					}
				}
			}
		}
	}
	first, last := rs[0].StartAt, rs[0].EndAt
	for _, r := range rs {
		if r.StartAt.Before(first) {
			first = r.StartAt
		}
		if r.EndAt.After(last) {
			last = r.EndAt
		}
	}
	perNode := map[string]int{}
	for node, list := range byNode {
		perNode[node] = len(list)
	}
	t.Logf("%d reservations %v over %s, per node %v, %d overlapping pairs", len(rs), states,
		last.Sub(first).Round(time.Millisecond), perNode, overlaps)
	record(t, sectionInvariant, "no node held by two reservations at once",
		"%d reservations on %d nodes, %d overlapping pairs", len(rs), len(byNode), overlaps)
}
