// Package optimizer decides how many files may be copied at once between a
// pair of storage elements, in the spirit of FTS3's optimizer: it smooths the
// pair's throughput with an exponential moving average, lowers the limit when
// transfers fail, raises it while throughput keeps rising and files wait, and
// explains every decision in a sentence kept in the optimizer evolution.
//
// The package is pure: the transfer activities feed it the figures of a
// window of finished files and store what it decides.
package optimizer

import (
	"fmt"
	"math"
)

// Config bounds and tunes the optimizer.
type Config struct {
	Min, Max int // bounds of the active limit
	Start    int // the limit of a pair seen for the first time
	Step     int // how much one good decision adds
	// Alpha weighs the newest throughput in the moving average (0 < Alpha ≤ 1).
	Alpha float64
	// Below BadSuccess the limit drops by 2 steps, below GoodSuccess by 1.
	BadSuccess, GoodSuccess float64
	// Rise and Fall are the relative changes of the average that count as
	// throughput going up or down (0.05 = 5 %).
	Rise, Fall float64
}

// Default is what a pair gets unless an administrator changes it: FTS3 also
// starts low and lets a good link earn more.
var Default = Config{Min: 2, Max: 100, Start: 8, Step: 1, Alpha: 0.3, BadSuccess: 0.90, GoodSuccess: 0.97, Rise: 0.05, Fall: 0.05}

// State is what the optimizer knows of a pair between decisions.
type State struct {
	Active int     // the current limit
	EMA    float64 // smoothed throughput, bytes per second (0: no sample yet)
}

// Sample is what happened on a pair since the last decision.
type Sample struct {
	Finished, Failed int
	// Throughput is the pair's aggregate throughput over the window, in
	// bytes per second (the bytes of finished files over the window's span).
	Throughput                  float64
	ActualActive                int // files being copied now
	Queued                      int // files waiting for a slot
	FileSizeAvg, FileSizeStddev float64
}

// Decision is a new limit and why.
type Decision struct {
	Active     int
	EMA        float64
	Throughput float64
	Success    float64 // ratio of finished files in the window, 1 with none
	Diff       int     // Active minus the files being copied now
	Rationale  string
}

// Decide computes the next limit of a pair from its state and a sample.
func (c Config) Decide(prev State, s Sample) Decision {
	active := prev.Active
	if active == 0 {
		active = c.Start
	}
	d := Decision{EMA: prev.EMA, Throughput: s.Throughput, Success: 1}
	done := s.Finished + s.Failed
	var why string
	switch {
	case done == 0:
		why = fmt.Sprintf("no transfer ended since the last decision: keep %d", active)
	default:
		d.Success = float64(s.Finished) / float64(done)
		if prev.EMA == 0 {
			d.EMA = s.Throughput
		} else {
			d.EMA = c.Alpha*s.Throughput + (1-c.Alpha)*prev.EMA
		}
		pct := 100 * d.Success
		switch {
		case d.Success < c.BadSuccess:
			active -= 2 * c.Step
			why = fmt.Sprintf("bad link efficiency (%.0f%% succeeded, below %.0f%%): decrease by %d", pct, 100*c.BadSuccess, 2*c.Step)
		case d.Success < c.GoodSuccess:
			active -= c.Step
			why = fmt.Sprintf("poor link efficiency (%.0f%% succeeded, below %.0f%%): decrease by %d", pct, 100*c.GoodSuccess, c.Step)
		case prev.EMA > 0 && d.EMA < prev.EMA*(1-c.Fall):
			active -= c.Step
			why = fmt.Sprintf("throughput falling (average %s, was %s): decrease by %d", rate(d.EMA), rate(prev.EMA), c.Step)
		case s.Queued == 0:
			why = fmt.Sprintf("good link efficiency (%.0f%%) but nothing queued: keep %d", pct, active)
		case prev.EMA == 0 || d.EMA > prev.EMA*(1+c.Rise):
			active += c.Step
			why = fmt.Sprintf("good link efficiency (%.0f%%), throughput rising (average %s) and %d files queued: increase by %d", pct, rate(d.EMA), s.Queued, c.Step)
		default:
			why = fmt.Sprintf("good link efficiency (%.0f%%), throughput steady (average %s): keep %d", pct, rate(d.EMA), active)
		}
	}
	if clamped := min(max(active, c.Min), c.Max); clamped != active {
		why += fmt.Sprintf(" (held at the bound %d)", clamped)
		active = clamped
	}
	d.Active = active
	d.Diff = active - s.ActualActive
	d.Rationale = why
	return d
}

// rate renders bytes per second for a rationale.
func rate(bps float64) string {
	units := []string{"B/s", "KiB/s", "MiB/s", "GiB/s"}
	i := 0
	for bps >= 1024 && i < len(units)-1 {
		bps /= 1024
		i++
	}
	if math.IsNaN(bps) || math.IsInf(bps, 0) {
		return "?"
	}
	return fmt.Sprintf("%.1f %s", bps, units[i])
}
