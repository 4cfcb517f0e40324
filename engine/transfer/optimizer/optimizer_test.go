package optimizer

import (
	"strings"
	"testing"
)

// TestScriptedSeries plays a scripted series of windows on one pair and
// checks every decision and the words of its rationale.
func TestScriptedSeries(t *testing.T) {
	const MiB = 1 << 20
	steps := []struct {
		name   string
		sample Sample
		active int
		why    string
	}{
		{"first window, all good, queue waiting", Sample{Finished: 10, Throughput: 10 * MiB, Queued: 50}, 9, "throughput rising"},
		{"throughput rises", Sample{Finished: 10, Throughput: 20 * MiB, Queued: 40}, 10, "throughput rising"},
		{"steady", Sample{Finished: 10, Throughput: 13 * MiB, Queued: 30}, 10, "steady"},
		{"nothing ended", Sample{Queued: 30}, 10, "no transfer ended"},
		{"poor success", Sample{Finished: 19, Failed: 1, Throughput: 13 * MiB, Queued: 20}, 9, "poor link efficiency (95%"},
		{"bad success", Sample{Finished: 5, Failed: 5, Throughput: 13 * MiB, Queued: 20}, 7, "bad link efficiency (50%"},
		{"throughput falls", Sample{Finished: 10, Throughput: 2 * MiB, Queued: 20}, 6, "throughput falling"},
		{"nothing queued", Sample{Finished: 10, Throughput: 30 * MiB}, 6, "nothing queued"},
	}
	st := State{}
	for _, s := range steps {
		d := Default.Decide(st, s.sample)
		if d.Active != s.active || !strings.Contains(d.Rationale, s.why) {
			t.Fatalf("%s: got %d %q, want %d and %q", s.name, d.Active, d.Rationale, s.active, s.why)
		}
		if d.Diff != d.Active-s.sample.ActualActive {
			t.Fatalf("%s: diff %d", s.name, d.Diff)
		}
		st = State{Active: d.Active, EMA: d.EMA}
	}
}

func TestBounds(t *testing.T) {
	c := Default
	d := c.Decide(State{Active: c.Min, EMA: 100}, Sample{Failed: 10, Throughput: 1})
	if d.Active != c.Min || !strings.Contains(d.Rationale, "held at the bound") || d.Success != 0 {
		t.Fatalf("low bound: %+v", d)
	}
	d = c.Decide(State{Active: c.Max, EMA: 100}, Sample{Finished: 10, Throughput: 1000, Queued: 5})
	if d.Active != c.Max || !strings.Contains(d.Rationale, "held at the bound") {
		t.Fatalf("high bound: %+v", d)
	}
}

func TestEMA(t *testing.T) {
	d := Default.Decide(State{Active: 5, EMA: 100}, Sample{Finished: 1, Throughput: 200, Queued: 1})
	if want := 0.3*200 + 0.7*100; d.EMA != want {
		t.Fatalf("ema %v, want %v", d.EMA, want)
	}
}
