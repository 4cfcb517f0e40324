//go:build linux

package main

// Transfer benchmarks: a large file between two real agents (separate
// processes of the built gridflow binary) beside curl, and a job of many
// small files beside a plain Go copy loop. Both start `gridflow dev`
// in-process. Run them with
//
//	go test -run XXX -bench BenchmarkTransfer -benchtime 1x ./cmd/gridflow/
//
// Environment:
//
//	GRIDFLOW_BENCH_TRANSFER_BYTES  size of the agent-to-agent file (default 1 GiB)
//	GRIDFLOW_BENCH_TRANSFER_ALGOS  checksums to copy with, in order (default adler32,sha256)
//	GRIDFLOW_BENCH_TRANSFER_FILES  files of the many-files job (default 10000)
//	GRIDFLOW_BENCH_BIN             a gridflow binary to run the agents with
//	                               (default: go build ./cmd/gridflow into a temporary directory)

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/adler32"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/gridflow/gridflow/engine/store"
)

const (
	benchAdminToken = "gft_transfer-bench-admin-token"
	benchAgentToken = "agent-transfer-bench-token-0123456789"
	mib             = 1 << 20
)

// benchEnvInt reads a positive integer from the environment, or def.
func benchEnvInt(tb testing.TB, name string, def int64) int64 {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		tb.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// benchREST is apiClient for a benchmark.
type benchREST struct {
	tb          testing.TB
	base, token string
}

func (c benchREST) do(method, path string, body, out any) int {
	c.tb.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.tb.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.tb.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			c.tb.Fatalf("%s %s: %d %.500s", method, path, res.StatusCode, raw)
		}
	}
	return res.StatusCode
}

// submit posts a transfer job and fails unless it is created.
func (c benchREST) submit(files []map[string]any, params map[string]any) xferJob {
	c.tb.Helper()
	var j xferJob
	body := map[string]any{"files": files, "params": params}
	if code := c.do("POST", "/v1/transfers", body, &j); code != 201 || j.JobID == "" {
		c.tb.Fatalf("submit: %d %s %+v", code, j.Detail, j.Errors)
	}
	return j
}

// waitEnded polls a job every interval until its state is final.
func (c benchREST) waitEnded(id string, within, interval time.Duration) xferJob {
	c.tb.Helper()
	deadline := time.Now().Add(within)
	for {
		var j xferJob
		if code := c.do("GET", "/v1/transfers/"+id, nil, &j); code != 200 {
			c.tb.Fatalf("GET transfer %s: %d", id, code)
		}
		if store.IsTransferFinal(j.JobState) {
			return j
		}
		if time.Now().After(deadline) {
			c.tb.Fatalf("transfer %s still %s after %v", id, j.JobState, within)
		}
		time.Sleep(interval)
	}
}

func benchFreeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startBenchDev is startDev for a benchmark; the dev stops at cleanup.
func startBenchDev(tb testing.TB, dataDir string, extra ...string) (*devProcess, benchREST) {
	tb.Helper()
	d := &devProcess{api: benchFreeAddr(tb), ui: benchFreeAddr(tb), temporal: benchFreeAddr(tb), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	args := append([]string{"gridflow", "dev", "--data-dir", dataDir, "--listen", d.api, "--ui-listen", d.ui,
		"--temporal-listen", d.temporal, "--admin-token", benchAdminToken, "--log-level", "warn"}, extra...)
	go func() { d.done <- newApp().RunContext(ctx, args) }()
	tb.Cleanup(func() {
		d.cancel()
		select {
		case err := <-d.done:
			if err != nil {
				tb.Errorf("gridflow dev stopped with an error: %v", err)
			}
		case <-time.After(60 * time.Second):
			tb.Error("gridflow dev did not stop within 60s")
		}
	})
	deadline := time.Now().Add(120 * time.Second)
	for {
		select {
		case err := <-d.done:
			d.done <- err
			tb.Fatalf("gridflow dev exited during start: %v", err)
		default:
		}
		if res, err := http.Get("http://" + d.api + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return d, benchREST{tb: tb, base: "http://" + d.api, token: benchAdminToken}
			}
		}
		if time.Now().After(deadline) {
			tb.Fatal("gridflow dev not ready after 120s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// benchTemporal dials the dev's embedded Temporal server.
func benchTemporal(tb testing.TB, d *devProcess) client.Client {
	tb.Helper()
	c, err := client.Dial(client.Options{HostPort: d.temporal, Namespace: "default",
		Logger: sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return c
}

// workflowHistory counts the events of a workflow over all its runs,
// following continue-as-new back from the latest run.
func workflowHistory(ctx context.Context, c client.Client, id string) (events, runs int, err error) {
	runID := ""
	for {
		it := c.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		prev := ""
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				return events, runs, err
			}
			events++
			if a := ev.GetWorkflowExecutionStartedEventAttributes(); a != nil {
				prev = a.GetContinuedExecutionRunId()
			}
		}
		runs++
		if prev == "" {
			return events, runs, nil
		}
		runID = prev
	}
}

// procStatusBytes reads a "kB" field (VmRSS, VmHWM) of /proc/PID/status.
func procStatusBytes(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// procCPU reads the CPU time (user and system) a process has used.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command, which is in parentheses: state is
	// the first, utime the 12th and stime the 13th, in clock ticks
	// (USER_HZ, 100 on Linux).
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond, errors.Join(err1, err2)
}

// peakProbe measures how much a process's peak RSS grows over a span, and
// the CPU time it uses: begin resets the peak (clear_refs 5) to the
// current RSS where the kernel allows it, else keeps the peak so far as
// the base.
type peakProbe struct {
	name  string
	pid   int
	base  int64
	reset bool
	cpu   time.Duration
}

func beginPeak(tb testing.TB, name string, pid int) *peakProbe {
	tb.Helper()
	p := &peakProbe{name: name, pid: pid}
	p.reset = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0) == nil
	field := "VmHWM"
	if p.reset {
		field = "VmRSS"
	}
	var err error
	if p.base, err = procStatusBytes(pid, field); err != nil {
		tb.Fatal(err)
	}
	if p.cpu, err = procCPU(pid); err != nil {
		tb.Fatal(err)
	}
	return p
}

// end returns the growth of the peak RSS over the base, and the CPU time
// used over the span.
func (p *peakProbe) end(tb testing.TB) (growth int64, cpu time.Duration) {
	tb.Helper()
	hwm, err := procStatusBytes(p.pid, "VmHWM")
	if err != nil {
		tb.Fatal(err)
	}
	c, err := procCPU(p.pid)
	if err != nil {
		tb.Fatal(err)
	}
	return max(0, hwm-p.base), c - p.cpu
}

func (p *peakProbe) String() string {
	if p.reset {
		return p.name + " (peak reset)"
	}
	return p.name + " (peak not resettable: growth over the earlier peak)"
}

// heapWatch samples the Go heap of this process while a copy runs.
type heapWatch struct {
	stop       chan struct{}
	done       chan struct{}
	base, peak uint64
	rssPeak    int64
}

func watchHeap() *heapWatch {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(s); return s[0].Value.Uint64() }
	w := &heapWatch{stop: make(chan struct{}), done: make(chan struct{})}
	w.base = read()
	w.peak = w.base
	go func() {
		defer close(w.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
				w.peak = max(w.peak, read())
				if rss, err := procStatusBytes(os.Getpid(), "VmRSS"); err == nil {
					w.rssPeak = max(w.rssPeak, rss)
				}
			}
		}
	}()
	return w
}

// end returns the heap's peak growth over its size at the start.
func (w *heapWatch) end() int64 {
	close(w.stop)
	<-w.done
	return int64(w.peak) - int64(w.base)
}

// benchBinary builds cmd/gridflow (or takes GRIDFLOW_BENCH_BIN).
func benchBinary(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("GRIDFLOW_BENCH_BIN"); p != "" {
		return p
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		tb.Skipf("no go tool to build the agent binary with (set GRIDFLOW_BENCH_BIN): %v", err)
	}
	out := filepath.Join(tb.TempDir(), "gridflow")
	t0 := time.Now()
	if b, err := exec.Command(goTool, "build", "-o", out, ".").CombinedOutput(); err != nil {
		tb.Fatalf("go build ./cmd/gridflow: %v\n%s", err, b)
	}
	tb.Logf("built %s in %v", out, time.Since(t0).Round(time.Millisecond))
	return out
}

// benchAgent is an agent running as a child process.
type benchAgent struct {
	cmd  *exec.Cmd
	addr string
	dir  string // its data dir; files under dir/files
}

func startBenchAgent(tb testing.TB, bin, listen, dir string) *benchAgent {
	tb.Helper()
	cmd := exec.Command(bin, "agent", "--listen", listen, "--data-dir", dir, "--log-level", "warn")
	cmd.Env = append(os.Environ(), "GRIDFLOW_AGENT_TOKEN="+benchAgentToken)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	exited := make(chan struct{})
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	addrc := make(chan string, 1)
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "gridflow agent serving http://"); ok {
				addrc <- strings.TrimSuffix(rest, "/v1")
			}
		}
		_, _ = io.Copy(io.Discard, out)
		_ = cmd.Wait()
	}()
	select {
	case addr := <-addrc:
		return &benchAgent{cmd: cmd, addr: addr, dir: dir}
	case <-exited:
		tb.Fatalf("agent on %s exited during start", listen)
	case <-time.After(30 * time.Second):
		tb.Fatalf("agent on %s did not start within 30s", listen)
	}
	return nil
}

func (a *benchAgent) pid() int { return a.cmd.Process.Pid }

// writeRandomFile writes size pseudo-random bytes and returns their adler32
// and sha256 checksums as the API writes them.
func writeRandomFile(tb testing.TB, path string, size int64, seed uint64) (adler, sha string) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	rng := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 42})
	ad, sh := adler32.New(), sha256.New()
	w := io.MultiWriter(f, ad, sh)
	buf := make([]byte, 4*mib)
	for left := size; left > 0; {
		n := int(min(int64(len(buf)), left))
		_, _ = rng.Read(buf[:n])
		if _, err := w.Write(buf[:n]); err != nil {
			tb.Fatal(err)
		}
		left -= int64(n)
	}
	if err := f.Sync(); err != nil {
		tb.Fatal(err)
	}
	return fmt.Sprintf("adler32:%08x", ad.Sum32()), "sha256:" + hex.EncodeToString(sh.Sum(nil))
}

// curlDownload downloads url to /dev/null with curl, as a user would, and
// returns the wall time.
func curlDownload(curl, url, token, algo string, size int64) (time.Duration, error) {
	cmd := exec.Command(curl, "-sS", "-f", "-o", "/dev/null", "-w", "%{size_download}",
		"-H", "Authorization: Bearer "+token, "-H", "X-Checksum-Algorithm: "+algo, url)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	t0 := time.Now()
	out, err := cmd.Output()
	d := time.Since(t0)
	if err != nil {
		return d, fmt.Errorf("curl: %v: %s", err, stderr.Bytes())
	}
	if got := strings.TrimSpace(string(out)); got != fmt.Sprint(size) {
		return d, fmt.Errorf("curl downloaded %s bytes, not %d", got, size)
	}
	return d, nil
}

// rawProxy streams src to dst through this process with plain net/http,
// GET from A and PUT to B with the expected checksum, as the engine does
// but with none of its bookkeeping: the same hops and the same work on both
// agents (hash, write, fsync, rename).
func rawProxy(src, dst, token, sum string, size int64) (time.Duration, error) {
	algo, _, _ := strings.Cut(sum, ":")
	t0 := time.Now()
	get, _ := http.NewRequest("GET", src, nil)
	get.Header.Set("Authorization", "Bearer "+token)
	get.Header.Set("X-Checksum-Algorithm", algo)
	res, err := http.DefaultClient.Do(get)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		return 0, fmt.Errorf("GET %s: %s", src, res.Status)
	}
	put, _ := http.NewRequest("PUT", dst, io.NopCloser(res.Body))
	put.Header.Set("Authorization", "Bearer "+token)
	put.Header.Set("X-Checksum", sum)
	put.Header.Set("Content-Type", "application/octet-stream")
	pres, err := http.DefaultClient.Do(put)
	if err != nil {
		return 0, err
	}
	body, _ := io.ReadAll(pres.Body)
	pres.Body.Close()
	d := time.Since(t0)
	if pres.StatusCode != 201 && pres.StatusCode != 200 {
		return d, fmt.Errorf("PUT %s: %s %s", dst, pres.Status, body)
	}
	return d, nil
}

// diskWrite writes size bytes to path and fsyncs them: what any copy that
// lands on this disk pays at least.
func diskWrite(tb testing.TB, path string, size int64) time.Duration {
	tb.Helper()
	buf := make([]byte, 4*mib)
	_, _ = rand.NewChaCha8([32]byte{7}).Read(buf)
	t0 := time.Now()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	for left := size; left > 0; {
		n := int(min(int64(len(buf)), left))
		if _, err := f.Write(buf[:n]); err != nil {
			tb.Fatal(err)
		}
		left -= int64(n)
	}
	if err := f.Sync(); err != nil {
		tb.Fatal(err)
	}
	f.Close()
	d := time.Since(t0)
	os.Remove(path)
	return d
}

func mibPerSec(size int64, d time.Duration) float64 { return float64(size) / mib / d.Seconds() }

// BenchmarkTransferAgentToAgent copies a file (1 GiB by default) from
// agent A to agent B (node://A/… → node://B/…, verify_checksum both, the
// checksum given; B fetches the bytes from A itself, a third-party copy
// the engine starts and watches), timed from the submission to FINISHED. Beside it, in the same run: curl downloading
// the same file from A to /dev/null with the same checksum algorithm (the
// issue's baseline), and a bare net/http GET from A streamed into a PUT to
// B with the checksum (the same hops and disk writes, without the engine).
// The agents are child processes of the built binary. Reports MiB/s of each, the ratios (target
// >= 0.8 of curl), the disk's write-and-fsync rate, and the growth of the
// peak RSS of the engine (this process: dev and Temporal) and of each
// agent over each copy (target < 64 MiB).
func BenchmarkTransferAgentToAgent(b *testing.B) {
	size := benchEnvInt(b, "GRIDFLOW_BENCH_TRANSFER_BYTES", 1<<30)
	algos := strings.Split(orDefault(os.Getenv("GRIDFLOW_BENCH_TRANSFER_ALGOS"), "adler32,sha256"), ",")
	curl, curlErr := exec.LookPath("curl")
	if curlErr != nil {
		b.Logf("no curl baseline: %v", curlErr)
	}
	bin := benchBinary(b)
	dirA, dirB := b.TempDir(), b.TempDir()
	const srcPath = "bench/big.bin"
	t0 := time.Now()
	adlerSum, shaSum := writeRandomFile(b, filepath.Join(dirA, "files", srcPath), size, 1)
	b.Logf("wrote %d MiB on agent A in %v", size/mib, time.Since(t0).Round(time.Millisecond))
	sums := map[string]string{"adler32": adlerSum, "sha256": shaSum}
	for _, a := range algos {
		if sums[a] == "" {
			b.Fatalf("GRIDFLOW_BENCH_TRANSFER_ALGOS: %q is not adler32 or sha256", a)
		}
	}
	agentA := startBenchAgent(b, bin, "127.0.0.2:0", dirA)
	agentB := startBenchAgent(b, bin, "127.0.0.3:0", dirB)
	hcl := fmt.Sprintf(`site "s" {
  cluster "real" {
    driver "agent" {
      agents = { "real-1" = %q, "real-2" = %q }
    }
    nodes {
      count = 2
      name  = "real-%%d"
      properties {
        cores   = 2
        memory  = "4GiB"
        disk    = "100GB"
        network = "10Gbps"
      }
    }
  }
}
`, agentA.addr, agentB.addr)
	tbFile := filepath.Join(b.TempDir(), "bench.hcl")
	if err := os.WriteFile(tbFile, []byte(hcl), 0o644); err != nil {
		b.Fatal(err)
	}
	_, admin := startBenchDev(b, b.TempDir(), "--testbed", tbFile, "--agent-token", benchAgentToken, "--transfer-root", b.TempDir())
	var r resv
	if code := admin.do("POST", "/v1/sites/s/reservations", map[string]any{"nodes": 2, "cluster": "real", "walltime": "2h"}, &r); code != 201 {
		b.Fatalf("reserve the agents' nodes: %d %+v", code, r)
	}
	for deadline := time.Now().Add(time.Minute); r.State != "running"; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("reservation %s is %s (%s) after a minute", r.UID, r.State, r.Reason)
		}
		admin.do("GET", "/v1/sites/s/reservations/"+r.UID, nil, &r)
	}

	// Disk floor: what writing the file on B and fsyncing it takes.
	diskDur := diskWrite(b, filepath.Join(dirB, "disk-floor.bin"), size)

	type result struct {
		gf, curl, proxy           time.Duration // best curls of the runs around the copy
		engine, engineHeap, a, bb int64
	}
	res := map[string]*result{}
	runs := 0
	for b.Loop() {
		for _, algo := range algos {
			rs := res[algo]
			if rs == nil {
				rs = &result{}
				res[algo] = rs
			}
			var curls []string
			curlRun := func() {
				if curl == "" {
					return
				}
				d, err := curlDownload(curl, "http://"+agentA.addr+"/v1/files/"+srcPath, benchAgentToken, algo, size)
				if err != nil {
					b.Fatal(err)
				}
				curls = append(curls, fmt.Sprintf("%v (%.0f MiB/s)", d.Round(time.Millisecond), mibPerSec(size, d)))
				if rs.curl == 0 || d < rs.curl {
					rs.curl = d
				}
			}
			curlRun()
			proxyDest := fmt.Sprintf("bench/proxy-%s-%d.bin", algo, runs)
			pd, err := rawProxy("http://"+agentA.addr+"/v1/files/"+srcPath, "http://"+agentB.addr+"/v1/files/"+proxyDest, benchAgentToken, sums[algo], size)
			if err != nil {
				b.Fatal(err)
			}
			if fi, err := os.Stat(filepath.Join(dirB, "files", proxyDest)); err != nil || fi.Size() != size {
				b.Fatalf("proxied destination on B: %v %v", fi, err)
			}
			os.Remove(filepath.Join(dirB, "files", proxyDest))
			if rs.proxy == 0 || pd < rs.proxy {
				rs.proxy = pd
			}

			dest := fmt.Sprintf("bench/%s-%d.bin", algo, runs)
			engine := beginPeak(b, "engine", os.Getpid())
			pa, pb := beginPeak(b, "agent A", agentA.pid()), beginPeak(b, "agent B", agentB.pid())
			heap := watchHeap()
			start := time.Now()
			j := admin.submit([]map[string]any{{
				"sources": []string{"node://real-1/" + srcPath}, "destinations": []string{"node://real-2/" + dest},
				"checksum": sums[algo], "filesize": size,
			}}, map[string]any{"verify_checksum": "both", "overwrite": true})
			j = admin.waitEnded(j.JobID, 30*time.Minute, 50*time.Millisecond)
			elapsed := time.Since(start)
			heapGrowth := heap.end()
			eg, ec := engine.end(b)
			ag, ac := pa.end(b)
			bg, bc := pb.end(b)
			if j.JobState != store.TransferFinished || len(j.Files) != 1 {
				b.Fatalf("job %s: %s %s %+v", j.JobID, j.JobState, j.Reason, j.Files)
			}
			f := j.Files[0]
			if f.DestChecksum != sums[algo] || f.Filesize != size {
				b.Fatalf("file %+v: want %s and %d bytes", f, sums[algo], size)
			}
			if fi, err := os.Stat(filepath.Join(dirB, "files", dest)); err != nil || fi.Size() != size {
				b.Fatalf("destination on B: %v %v", fi, err)
			}
			b.Logf("gridflow %s: %v (%.0f MiB/s; the file says %.0f MiB/s); peak RSS growth: %s %d MiB, %s %d MiB, %s %d MiB; engine heap +%d MiB, engine RSS peak %d MiB; CPU time: engine %v, agent A %v, agent B %v",
				algo, elapsed.Round(time.Millisecond), mibPerSec(size, elapsed), f.Throughput/mib,
				engine, eg/mib, pa, ag/mib, pb, bg/mib, heapGrowth/mib, heap.rssPeak/mib, ec, ac, bc)
			os.Remove(filepath.Join(dirB, "files", dest))
			curlRun()
			b.Logf("%s baselines: curl to /dev/null before and after %s; net/http GET A | PUT B %v (%.0f MiB/s)",
				algo, strings.Join(curls, ", "), pd.Round(time.Millisecond), mibPerSec(size, pd))

			rs.gf += elapsed
			rs.engine, rs.engineHeap = max(rs.engine, eg), max(rs.engineHeap, heapGrowth)
			rs.a, rs.bb = max(rs.a, ag), max(rs.bb, bg)
		}
		runs++
	}
	b.StopTimer()
	var engine, engineHeap, ga, gb int64
	for _, algo := range algos {
		rs := res[algo]
		gf := mibPerSec(size*int64(runs), rs.gf)
		b.ReportMetric(gf, "gridflow-"+algo+"-MiB/s")
		if rs.curl > 0 {
			c := mibPerSec(size, rs.curl)
			b.ReportMetric(c, "curl-"+algo+"-MiB/s")
			b.ReportMetric(gf/c, "ratio-"+algo)
		}
		if rs.proxy > 0 {
			p := mibPerSec(size, rs.proxy)
			b.ReportMetric(p, "proxy-"+algo+"-MiB/s")
			b.ReportMetric(gf/p, "ratio-proxy-"+algo)
		}
		engine, engineHeap = max(engine, rs.engine), max(engineHeap, rs.engineHeap)
		ga, gb = max(ga, rs.a), max(gb, rs.bb)
	}
	b.ReportMetric(mibPerSec(size, diskDur), "disk-write-MiB/s")
	b.ReportMetric(float64(engine)/mib, "engine-peak-growth-MiB")
	b.ReportMetric(float64(engineHeap)/mib, "engine-heap-growth-MiB")
	b.ReportMetric(float64(ga)/mib, "agentA-peak-growth-MiB")
	b.ReportMetric(float64(gb)/mib, "agentB-peak-growth-MiB")
}

// orDefault returns v, or def when v is empty.
func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// BenchmarkTransferManySmallFiles copies a job of 10,000 files of 4 KiB
// (GRIDFLOW_BENCH_TRANSFER_FILES) file:// → file:// under the transfer
// root, timed from the submission to the end of the job's workflow (the
// job FINISHED), and the same files with a plain Go loop (io.Copy and
// fsync per file). Reports files/s of both, their ratio, and the length
// of the job's workflow history over all its runs.
func BenchmarkTransferManySmallFiles(b *testing.B) {
	n := int(benchEnvInt(b, "GRIDFLOW_BENCH_TRANSFER_FILES", 10000))
	const fileSize = 4 << 10
	root := b.TempDir()
	src := filepath.Join(root, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		b.Fatal(err)
	}
	rng := rand.NewChaCha8([32]byte{3})
	buf := make([]byte, fileSize)
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("f%05d", i)
		_, _ = rng.Read(buf)
		if err := os.WriteFile(filepath.Join(src, names[i]), buf, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	d, admin := startBenchDev(b, b.TempDir(), "--testbed", filepath.Join("testdata", "tiny.hcl"), "--transfer-root", root)
	tc := benchTemporal(b, d)
	ctx := context.Background()

	var gfDur, baseDur time.Duration
	var events, runs, iters int
	for b.Loop() {
		dst := filepath.Join(root, fmt.Sprintf("dst-%d", iters))
		files := make([]map[string]any, n)
		for i, name := range names {
			files[i] = map[string]any{"sources": []string{"file://" + filepath.Join(src, name)},
				"destinations": []string{"file://" + filepath.Join(dst, name)}}
		}
		start := time.Now()
		j := admin.submit(files, nil)
		submitted := time.Since(start)
		// The end of the workflow, not a poll of the job: a GET of a job
		// of many files returns a thousand of them.
		if err := tc.GetWorkflow(ctx, j.JobID, "").Get(ctx, nil); err != nil {
			b.Fatalf("workflow of job %s: %v", j.JobID, err)
		}
		elapsed := time.Since(start)
		j = admin.waitEnded(j.JobID, time.Minute, 100*time.Millisecond)
		if j.JobState != store.TransferFinished || j.FileCounts[store.TransferFinished] != n {
			b.Fatalf("job %s: %s %s %v", j.JobID, j.JobState, j.Reason, j.FileCounts)
		}
		for _, name := range names {
			if fi, err := os.Stat(filepath.Join(dst, name)); err != nil || fi.Size() != fileSize {
				b.Fatalf("destination %s: %v %v", name, fi, err)
			}
		}
		ev, rn, err := workflowHistory(ctx, tc, j.JobID)
		if err != nil {
			b.Fatal(err)
		}
		desc, err := tc.DescribeWorkflowExecution(ctx, j.JobID, "")
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("gridflow: %d files in %v (%.0f files/s; submission %v); history %d events in %d run(s), the last run %d",
			n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), submitted.Round(time.Millisecond), ev, rn,
			desc.GetWorkflowExecutionInfo().GetHistoryLength())

		base := filepath.Join(root, fmt.Sprintf("base-%d", iters))
		t0 := time.Now()
		if err := copyLoop(src, base, names); err != nil {
			b.Fatal(err)
		}
		bd := time.Since(t0)
		b.Logf("Go loop (io.Copy + fsync): %d files in %v (%.0f files/s)", n, bd.Round(time.Millisecond), float64(n)/bd.Seconds())

		gfDur += elapsed
		baseDur += bd
		events, runs = max(events, ev), max(runs, rn)
		iters++
	}
	b.StopTimer()
	gf := float64(n*iters) / gfDur.Seconds()
	base := float64(n*iters) / baseDur.Seconds()
	b.ReportMetric(gf, "files/s")
	b.ReportMetric(base, "baseline-files/s")
	b.ReportMetric(gf/base, "ratio")
	b.ReportMetric(float64(events), "history-events")
	b.ReportMetric(float64(runs), "workflow-runs")
}

// copyLoop is the baseline: each file copied with io.Copy and fsynced.
func copyLoop(src, dst string, names []string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	one := func(name string) error {
		in, err := os.Open(filepath.Join(src, name))
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(filepath.Join(dst, name))
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return errors.Join(out.Sync(), out.Close())
	}
	for _, name := range names {
		if err := one(name); err != nil {
			return err
		}
	}
	return nil
}
