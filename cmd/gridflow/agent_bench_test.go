//go:build linux

package main

// Process latency through a node agent, beside a local exec of the same
// command in the same run:
//
//	go test -run XXX -bench AgentProcessLatency -benchtime 300x ./cmd/gridflow/
//	bench/agentprocs.sh        # the same, with the load average before and after
//
// Each iteration runs the command once locally and once through the agent
// (a child process of the built binary on 127.0.0.2, as in
// transfer_bench_test.go) in each of the ways below, in an order that
// rotates so that none always comes first.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gridflow/gridflow/engine/hw"
	"github.com/gridflow/gridflow/engine/hw/agentclient"
)

// percentile is the nearest-rank p-quantile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func procLoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// pollPolicy is how a caller waits for a process it started to end.
type pollPolicy struct {
	name         string
	first, limit time.Duration // first wait, doubled up to limit
	noStartWait  bool          // Start answers at once
}

// runThroughAgent starts name args on node through c, waits for its end
// with pol, reads its output and returns the time from the start request
// to the output in hand, and the time the agent saw the process run.
func runThroughAgent(ctx context.Context, c *agentclient.Client, node, id string, pol pollPolicy, name string, args []string) (time.Duration, time.Duration, string, error) {
	t0 := time.Now()
	p, err := c.Start(ctx, node, hw.ProcessSpec{ID: id, Name: name, Args: args})
	if err != nil {
		return 0, 0, "", err
	}
	wait := pol.first
	for p.State == hw.ProcessRunning {
		time.Sleep(wait)
		wait = min(2*wait, pol.limit)
		if p, err = c.Status(ctx, node, id); err != nil {
			return 0, 0, "", err
		}
	}
	o, err := c.Output(ctx, node, id)
	if err != nil {
		return 0, 0, "", err
	}
	d := time.Since(t0)
	if p.ExitCode == nil || *p.ExitCode != 0 {
		return d, 0, "", fmt.Errorf("process %s ended %s with exit code %v: %s", id, p.State, p.ExitCode, o.Stderr)
	}
	var ran time.Duration
	if p.Ended != nil {
		ran = p.Ended.Sub(p.Started)
	}
	return d, ran, string(o.Stdout), nil
}

// BenchmarkAgentProcessLatency measures the start-to-output latency of a
// short command (/bin/sh -c "echo …") run on a node through its agent, the
// way the engine runs a campaign's process step (agentclient Start, Status
// polled from 5 ms doubling up to 500 ms, then Output: activities.runOn):
// "engine" with the client's default StartWait (the agent answers the
// start once the command ended), "engine-nowait" without it (as before it
// existed), and "poll1ms-nowait" with a tight 1 ms poll; beside the same
// command run locally with os/exec in the same iterations. Reports p50 and
// p99 of each and the ratios of the p50s to the local one.
func BenchmarkAgentProcessLatency(b *testing.B) {
	bin := benchBinary(b)
	ag := startBenchAgent(b, bin, "127.0.0.2:0", b.TempDir())
	const node = "bench-1"
	// The client as the engine has it (Start waits up to DefaultStartWait
	// for the command to end), and one whose Start answers at once, as
	// before that wait existed.
	c, err := agentclient.New(map[string]string{node: ag.addr}, agentclient.Options{Token: benchAgentToken})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	noWait, err := agentclient.New(map[string]string{node: ag.addr}, agentclient.Options{Token: benchAgentToken, StartWait: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer noWait.Close()
	ctx := context.Background()
	name, args := "/bin/sh", []string{"-c", "echo gridflow-latency"}
	const want = "gridflow-latency\n"
	// Warm the connection and the page cache of /bin/sh.
	if _, _, out, err := runThroughAgent(ctx, c, node, "warm", pollPolicy{"warm", time.Millisecond, time.Millisecond, false}, name, args); err != nil || out != want {
		b.Fatalf("warm-up through the agent: %q %v", out, err)
	}
	policies := []pollPolicy{
		{"engine", 5 * time.Millisecond, 500 * time.Millisecond, false},
		{"engine-nowait", 5 * time.Millisecond, 500 * time.Millisecond, true},
		{"poll1ms-nowait", time.Millisecond, time.Millisecond, true},
	}
	lat := map[string][]time.Duration{}
	var ran []time.Duration
	load0 := procLoadAvg()
	i := 0
	for b.Loop() {
		steps := []func(){func() {
			t0 := time.Now()
			out, err := exec.Command(name, args...).Output()
			lat["local"] = append(lat["local"], time.Since(t0))
			if err != nil || string(out) != want {
				b.Fatalf("local exec: %q %v", out, err)
			}
		}}
		for _, pol := range policies {
			steps = append(steps, func() {
				cl := c
				if pol.noStartWait {
					cl = noWait
				}
				d, r, out, err := runThroughAgent(ctx, cl, node, fmt.Sprintf("lat-%s-%d", pol.name, i), pol, name, args)
				if err != nil || out != want {
					b.Fatalf("through the agent (%s): %q %v", pol.name, out, err)
				}
				lat[pol.name] = append(lat[pol.name], d)
				ran = append(ran, r)
			})
		}
		for k := range steps {
			steps[(i+k)%len(steps)]()
		}
		i++
	}
	b.StopTimer()
	for _, v := range lat {
		slices.Sort(v)
	}
	slices.Sort(ran)
	local := percentile(lat["local"], 0.5)
	var line []string
	for _, k := range []string{"local", "engine", "engine-nowait", "poll1ms-nowait"} {
		p50, p99 := percentile(lat[k], 0.5), percentile(lat[k], 0.99)
		b.ReportMetric(float64(p50.Microseconds())/1000, k+"-p50-ms")
		b.ReportMetric(float64(p99.Microseconds())/1000, k+"-p99-ms")
		if k != "local" && local > 0 {
			b.ReportMetric(float64(p50)/float64(local), k+"/local-p50")
		}
		line = append(line, fmt.Sprintf("%s p50 %v p99 %v", k, p50.Round(time.Microsecond), p99.Round(time.Microsecond)))
	}
	b.Logf("%d samples each: %s; the agent saw the process run %v (p50); load average %s before, %s after",
		len(lat["local"]), strings.Join(line, ", "), percentile(ran, 0.5).Round(time.Microsecond), load0, procLoadAvg())
}
