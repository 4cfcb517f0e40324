//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gridflow/gridflow/engine/hw"
	"github.com/gridflow/gridflow/engine/hw/agentclient"
	"github.com/gridflow/gridflow/engine/store"
)

// BenchmarkDeploymentToAgents deploys an environment archive (256 MiB by
// default, made by the code of `gridflow env pack` from a tree holding one
// file of random bytes, so that it does not compress) to 8 real agents
// (child processes on 127.0.0.2…9), served by a local HTTP server, timed
// from the POST to the end of the deployment workflow. Beside it, in the
// same run: curl fetching the same archive from the same server to 8
// destinations at once, as the agents fetch it, before and after the
// deployment (the disk synced before each part). It reports the deployment's
// time, the mean of curl's and their ratio; and, to tell the engine's share
// from the agents', the time of the same install asked of the 8 agents at
// once directly, without the engine. Run it with
//
//	go test -run XXX -bench DeploymentToAgents -benchtime 1x ./cmd/gridflow/
//
// Environment: GRIDFLOW_BENCH_DEPLOY_BYTES (size of the random file in the
// tree, default 256 MiB), GRIDFLOW_BENCH_DEPLOY_AGENTS (default 8).
//
// The agents do more than curl: each hashes the archive (sha256) as it
// downloads it, unpacks it into a new tree and reboots into it; curl only
// writes the bytes.
func BenchmarkDeploymentToAgents(b *testing.B) {
	size := benchEnvInt(b, "GRIDFLOW_BENCH_DEPLOY_BYTES", 256*mib)
	n := int(benchEnvInt(b, "GRIDFLOW_BENCH_DEPLOY_AGENTS", 8))
	curl, err := exec.LookPath("curl")
	if err != nil {
		b.Skipf("no curl for the baseline, so no comparison: %v", err)
	}

	tree := filepath.Join(b.TempDir(), "bench-env")
	writeRandomFile(b, filepath.Join(tree, "payload.bin"), size, 5)
	if err := os.WriteFile(filepath.Join(tree, "os-release"), []byte("PRETTY_NAME=\"bench\"\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	www := b.TempDir()
	t0 := time.Now()
	packed, err := packEnvironment(tree, filepath.Join(www, "bench.tar.gz"), "sha256")
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("packed %d bytes (%.1f MiB) in %v: %s", packed.Size, float64(packed.Size)/mib, time.Since(t0).Round(time.Millisecond), packed.Checksum)
	if err := os.RemoveAll(tree); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(www)))
	defer srv.Close()
	url := srv.URL + "/bench.tar.gz"

	var addrs []string
	nodes := map[string]string{}
	for i, addr := range loopbackAddrs(b, n) {
		startChildAgent(b, addr, b.TempDir())
		addrs = append(addrs, addr)
		nodes[fmt.Sprintf("n%d", i+1)] = addr
	}
	direct, err := agentclient.New(nodes, agentclient.Options{Token: deployAgentToken})
	if err != nil {
		b.Fatal(err)
	}
	defer direct.Close()
	d, admin := startBenchDev(b, b.TempDir(), "--testbed", agentTestbed(b, addrs), "--agent-token", deployAgentToken, "--log-level", "error")
	tc := benchTemporal(b, d)
	var r resv
	if code := admin.do("POST", "/v1/sites/s/reservations", map[string]any{"nodes": n, "cluster": "agents", "walltime": "2h", "types": []string{"deploy"}}, &r); code != 201 {
		b.Fatalf("reserve = %d", code)
	}
	for deadline := time.Now().Add(time.Minute); r.State != "running"; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("reservation %s is %s: %s", r.UID, r.State, r.Reason)
		}
		admin.do("GET", "/v1/sites/s/reservations/"+r.UID, nil, &r)
	}

	ctx := context.Background()
	var depDur, curlDur, directDur time.Duration
	runs := 0
	b.Logf("load average before: %s", deployLoadAvg())
	for b.Loop() {
		// curl before and after the deployment, each part starting once the
		// disk has written what the one before left dirty.
		b.StopTimer()
		syscall.Sync()
		b.StartTimer()
		cd1 := curlToMany(b, curl, url, packed.Size, n)
		b.StopTimer()
		syscall.Sync()
		b.StartTimer()

		// Another name than the node runs, or the agent does nothing; two
		// names in turn, so that the agents keep at most four trees.
		label := fmt.Sprintf("bench-%d@1", runs%2)
		t0 := time.Now()
		var started dep
		if code := admin.do("POST", "/v1/sites/s/deployments", map[string]any{"reservation": r.UID, "environment": label,
			"image": map[string]any{"url": url, "checksum": packed.Checksum.String()}}, &started); code != 201 {
			b.Fatalf("deploy = %d %s", code, started.Detail)
		}
		if err := tc.GetWorkflow(ctx, started.UID, "").Get(ctx, nil); err != nil {
			b.Fatal(err)
		}
		dd := time.Since(t0)
		depDur += dd

		b.StopTimer()
		var done dep
		if admin.do("GET", "/v1/sites/s/deployments/"+started.UID, nil, &done); done.State != store.DeployTerminated || done.Summary["ok"] != n {
			b.Fatalf("deployment %s: %s %q %v", started.UID, done.State, done.Reason, done.Summary)
		}
		var write float64
		for _, node := range done.Nodes {
			write = max(write, node.Timings[store.StepWrite])
		}
		syscall.Sync()
		b.StartTimer()

		// The agents' own work without the engine: each asked at once to
		// install the same archive under another name.
		t1 := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for node := range nodes {
			wg.Go(func() {
				if _, err := direct.Install(ctx, node, hw.EnvSpec{Name: fmt.Sprintf("direct-%d@1", runs%2), URL: url, Checksum: packed.Checksum.String()}); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		id := time.Since(t1)
		directDur += id
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		b.StopTimer()
		syscall.Sync()
		b.StartTimer()

		cd2 := curlToMany(b, curl, url, packed.Size, n)
		cd := (cd1 + cd2) / 2
		curlDur += cd
		b.Logf("run %d: deployment of %.0f MiB to %d agents %v (slowest write step %.2fs); the agents asked directly %v; curl to %d destinations at once %v before, %v after (mean %v); deployment/curl %.2f, deployment/direct %.2f; load average %s",
			runs+1, float64(packed.Size)/mib, n, dd.Round(time.Millisecond), write, id.Round(time.Millisecond), n, cd1.Round(time.Millisecond), cd2.Round(time.Millisecond),
			cd.Round(time.Millisecond), dd.Seconds()/cd.Seconds(), dd.Seconds()/id.Seconds(), deployLoadAvg())
		runs++
	}
	b.ReportMetric(depDur.Seconds()/float64(runs), "deploy-s")
	b.ReportMetric(curlDur.Seconds()/float64(runs), "curl-s")
	b.ReportMetric(depDur.Seconds()/curlDur.Seconds(), "ratio")
	b.ReportMetric(directDur.Seconds()/float64(runs), "direct-s")
	b.ReportMetric(depDur.Seconds()/directDur.Seconds(), "ratio-direct")
	b.ReportMetric(float64(packed.Size)*float64(n*runs)/mib/depDur.Seconds(), "deploy-MiB/s")
	b.ReportMetric(float64(packed.Size)*float64(n*runs)/mib/curlDur.Seconds(), "curl-MiB/s")
}

// curlToMany fetches url with n curl processes at once, each into a file of
// its own directory, and returns the wall time until the last one ended.
func curlToMany(b *testing.B, curl, url string, size int64, n int) time.Duration {
	b.Helper()
	dst := b.TempDir()
	var wg sync.WaitGroup
	errs := make([]error, n)
	t0 := time.Now()
	for i := range n {
		wg.Go(func() {
			out := filepath.Join(dst, fmt.Sprint(i), "bench.tar.gz")
			if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
				errs[i] = err
				return
			}
			cmd := exec.Command(curl, "-sS", "-f", "-o", out, "-w", "%{size_download}", url)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			got, err := cmd.Output()
			switch {
			case err != nil:
				errs[i] = fmt.Errorf("curl: %v: %s", err, stderr.Bytes())
			case strings.TrimSpace(string(got)) != fmt.Sprint(size):
				errs[i] = fmt.Errorf("curl fetched %s bytes, not %d", got, size)
			}
		})
	}
	wg.Wait()
	d := time.Since(t0)
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := os.RemoveAll(dst); err != nil {
		b.Fatal(err)
	}
	return d
}

func deployLoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}
