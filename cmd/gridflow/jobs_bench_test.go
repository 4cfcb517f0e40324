package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"golang.org/x/crypto/bcrypt"

	"github.com/gridflow/gridflow/engine/store"
)

// bareJob is the baseline of a grid job: as many durable steps as a job
// runs (match and reserve, run, collect, end), each a trivial activity, one
// after the other.
func bareJob(ctx workflow.Context) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	for range 4 {
		if err := workflow.ExecuteActivity(ctx, trivialActivity).Get(ctx, nil); err != nil {
			return err
		}
	}
	return nil
}

func pct(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)*p/100, len(s)-1)]
}

// BenchmarkGridJobs measures grid jobs on a simulated testbed (64 nodes) of
// the embedded default, beside bare Temporal workflows of as
// many trivial activities on the same server, in the same run:
//
//   - latency: a trivial job (/bin/echo) from POST to Done, one at a time
//     (p50, p90), and a bare workflow from start to end;
//   - throughput: 60 jobs submitted at once, until all are Done (jobs/s),
//     and 60 bare workflows started at once, until all ended.
//
// Run: go test -run '^$' -bench BenchmarkGridJobs -benchtime 1x ./cmd/gridflow/
func BenchmarkGridJobs(b *testing.B) {
	t := &testing.T{}
	// Enough nodes that the burst runs at once: the engine is measured,
	// not the queue for six nodes (GRIDFLOW_BENCH_JOB_NODES changes it).
	nodes := benchEnvInt(b, "GRIDFLOW_BENCH_JOB_NODES", 64)
	store.BcryptCost = bcrypt.MinCost
	const token = "gft_job-bench-admin-token"
	d := startDev(t, b.TempDir(), "--testbed", largeTestbed(b, int(nodes)), "--admin-token", token)
	admin := apiClient{t: t, base: "http://" + d.api, token: token}
	defer d.stop(t)
	c, err := client.Dial(client.Options{HostPort: d.temporal, Logger: quietLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	w := worker.New(c, "bench-bare-job", worker.Options{})
	w.RegisterWorkflow(bareJob)
	w.RegisterActivity(trivialActivity)
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	ctx := context.Background()
	bare := func() error {
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: "bench-bare-job"}, bareJob)
		if err != nil {
			return err
		}
		return run.Get(ctx, nil)
	}
	submit := func(name string) string {
		code, j := admin.submitJob(map[string]any{"Executable": "/bin/echo", "Arguments": "hi", "JobName": name, "Sites": []string{"s"}}, nil)
		if code != 201 {
			b.Fatalf("submit = %d %s", code, j.Detail)
		}
		return j.JobID
	}
	countDone := func(name string) int {
		var page struct {
			Total int `json:"total"`
			Items []gridJob
		}
		admin.do("GET", "/v1/jobs?maxJobs=1&Status=Failed,Killed&JobName="+name, nil, &page)
		if page.Total > 0 {
			b.Fatalf("%d jobs of %s failed: %+v", page.Total, name, page.Items)
		}
		admin.do("GET", "/v1/jobs?maxJobs=1&Status=Done&JobName="+name, nil, &page)
		return page.Total
	}

	// Warm both paths up (first workflow of a type, connections).
	_ = admin.waitJob(submit("warm"), time.Minute, jobEnded)
	if err := bare(); err != nil {
		b.Fatal(err)
	}

	const latencyRuns, burst = 20, 60
	var jobLat, bareLat []time.Duration
	var jobBurst, bareBurst time.Duration
	runs := 0
	for b.Loop() {
		for i := range latencyRuns {
			t0 := time.Now()
			id := submit(fmt.Sprintf("lat-%d-%d", runs, i))
			for {
				j := admin.job(id)
				if j.Status == store.JobDone {
					break
				}
				if jobEnded(j) {
					b.Fatalf("job %+v", j)
				}
				time.Sleep(5 * time.Millisecond)
			}
			jobLat = append(jobLat, time.Since(t0))
			t0 = time.Now()
			if err := bare(); err != nil {
				b.Fatal(err)
			}
			bareLat = append(bareLat, time.Since(t0))
		}

		name := fmt.Sprintf("burst-%d", runs)
		t0 := time.Now()
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range burst / 8 {
					submit(name)
				}
			})
		}
		wg.Wait()
		deadline := time.Now().Add(5 * time.Minute)
		for n := burst / 8 * 8; countDone(name) < n; {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d jobs of %s Done after 5 minutes", countDone(name), n, name)
			}
			time.Sleep(20 * time.Millisecond)
		}
		jobBurst += time.Since(t0)

		t0 = time.Now()
		errs := make(chan error, burst)
		for range burst / 8 * 8 {
			go func() { errs <- bare() }()
		}
		for range burst / 8 * 8 {
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		}
		bareBurst += time.Since(t0)
		runs++
	}
	n := float64(runs * (burst / 8 * 8))
	b.ReportMetric(float64(pct(jobLat, 50).Milliseconds()), "job-p50-ms")
	b.ReportMetric(float64(pct(jobLat, 90).Milliseconds()), "job-p90-ms")
	b.ReportMetric(float64(pct(bareLat, 50).Milliseconds()), "bare-p50-ms")
	b.ReportMetric(n/jobBurst.Seconds(), "jobs/s")
	b.ReportMetric(n/bareBurst.Seconds(), "bare-workflows/s")
	b.ReportMetric(bareBurst.Seconds()/jobBurst.Seconds(), "throughput-ratio")
	b.ReportMetric(float64(pct(bareLat, 50))/float64(pct(jobLat, 50)), "latency-ratio")
}
