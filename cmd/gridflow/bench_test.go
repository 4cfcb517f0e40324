package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// bareWorkflow is the baseline: a workflow start that does nothing.
func bareWorkflow(ctx workflow.Context) error { return nil }

// BenchmarkReservationSubmit measures sustained reservation submissions through
// REST on the embedded default (placement under the allocation lock, the store
// writes, the workflow start) beside bare Temporal workflow starts on the same
// server, in the same run. Target: ratio >= 0.7.
func BenchmarkReservationSubmit(b *testing.B) {
	t := &testing.T{}
	dir := b.TempDir()
	d, admin := startTinyDev(t, dir)
	admin.t = t
	defer d.stop(t)
	c, err := client.Dial(client.Options{HostPort: d.temporal})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	w := worker.New(c, "bench-bare", worker.Options{})
	w.RegisterWorkflow(bareWorkflow)
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	defer w.Stop()

	var resDur, bareDur time.Duration
	i := 0
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		code, _ := admin.reserve(map[string]any{"nodes": 1, "walltime": "60", "start": fmt.Sprint(time.Now().Add(time.Duration(i+1) * time.Hour).Unix())})
		t1 := time.Now()
		if code != 201 {
			b.Fatalf("reserve = %d", code)
		}
		if _, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: fmt.Sprint("bare-", i), TaskQueue: "bench-bare"}, bareWorkflow); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		resDur += t1.Sub(t0)
		bareDur += t2.Sub(t1)
		i++
	}
	b.StopTimer()
	b.ReportMetric(float64(i)/resDur.Seconds(), "reservations/s")
	b.ReportMetric(float64(i)/bareDur.Seconds(), "bare-starts/s")
	b.ReportMetric(bareDur.Seconds()/resDur.Seconds(), "ratio")
}

// BenchmarkSubmitToRunning measures, on the embedded default, the time from
// POST to the reservation being running (p50 and p99).
func BenchmarkSubmitToRunning(b *testing.B) {
	t := &testing.T{}
	d, admin := startTinyDev(t, b.TempDir())
	admin.t = t
	defer d.stop(t)
	var lat []time.Duration
	for b.Loop() {
		t0 := time.Now()
		code, r := admin.reserve(map[string]any{"nodes": 1, "walltime": "1"})
		if code != 201 {
			b.Fatalf("reserve = %d", code)
		}
		for {
			var cur resv
			admin.do("GET", "/v1/sites/s/reservations/"+r.UID, nil, &cur)
			if cur.State == "running" || cur.State == "terminated" {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		lat = append(lat, time.Since(t0))
		// Let it end so that the next one starts at once too.
		admin.do("DELETE", "/v1/sites/s/reservations/"+r.UID, nil, nil)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Milliseconds()), "p99-ms")
}

// trivialActivity is the baseline's unit of work.
func trivialActivity(context.Context) error { return nil }

// bareActivities runs n trivial activities in parallel: the ceiling of a
// durable step on this server.
func bareActivities(ctx workflow.Context, n int) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	fs := make([]workflow.Future, n)
	for i := range fs {
		fs[i] = workflow.ExecuteActivity(ctx, trivialActivity)
	}
	for _, f := range fs {
		if err := f.Get(ctx, nil); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkCampaignSteps runs a campaign of 200 trivial steps (a reservation
// and 199 independent `run "true"` steps) beside a workflow of 200 bare
// activities on the same embedded server, and reports steps/s, activities/s
// and their ratio (target >= 0.7).
func BenchmarkCampaignSteps(b *testing.B) {
	t := &testing.T{}
	d, admin := startTinyDev(t, b.TempDir())
	admin.t = t
	defer d.stop(t)
	c, err := client.Dial(client.Options{HostPort: d.temporal})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	w := worker.New(c, "bench-bare", worker.Options{})
	w.RegisterWorkflow(bareActivities)
	w.RegisterActivity(trivialActivity)
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	defer w.Stop()

	const steps = 200
	var src strings.Builder
	src.WriteString("reservation \"r\" {\n  site = \"s\"\n  nodes = 1\n  walltime = \"1h\"\n}\n")
	for i := 1; i < steps; i++ {
		fmt.Fprintf(&src, "run \"s%d\" {\n  nodes = reservation.r.nodes\n  command = \"true\"\n}\n", i)
	}
	var campDur, bareDur time.Duration
	runs := 0
	for b.Loop() {
		t0 := time.Now()
		var it campaignResp
		if code := admin.do("POST", "/v1/campaigns", map[string]any{"source": src.String()}, &it); code != 201 {
			b.Fatalf("submit = %d %+v", code, it.Errors)
		}
		for {
			var cur campaignResp
			admin.do("GET", "/v1/campaigns/"+it.UID, nil, &cur)
			if cur.State == "succeeded" {
				break
			}
			if cur.State == "failed" || cur.State == "canceled" {
				b.Fatalf("campaign %s: %s", cur.State, cur.Reason)
			}
			time.Sleep(20 * time.Millisecond)
		}
		t1 := time.Now()
		run, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{TaskQueue: "bench-bare"}, bareActivities, steps)
		if err != nil {
			b.Fatal(err)
		}
		if err := run.Get(context.Background(), nil); err != nil {
			b.Fatal(err)
		}
		campDur += t1.Sub(t0)
		bareDur += time.Since(t1)
		runs++
	}
	b.ReportMetric(float64(runs*steps)/campDur.Seconds(), "steps/s")
	b.ReportMetric(float64(runs*steps)/bareDur.Seconds(), "bare-activities/s")
	b.ReportMetric(bareDur.Seconds()/campDur.Seconds(), "ratio")
}
