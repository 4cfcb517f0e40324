//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/gridflow/gridflow/apiclient"
)

// Transfers between the file areas of two agent containers
// (node://NODE/path), driven with the generated client. The bytes are
// checked with the nodes' own sha256sum (busybox), not with the engine's
// checksums: a copy that the engine wrongly called verified would fail here.

// testFile is a file made on a node for a transfer.
type testFile struct {
	path   string // in the node's file area
	size   int64
	sha256 string // hex, as sha256sum computed it on the node
}

// makeFiles writes files of random bytes of the given sizes on a node under
// dir and returns them with their sha256 as the node computes it.
func (g *gen) makeFiles(node, dir string, sizes map[string]int64) []testFile {
	g.t.Helper()
	names := make([]string, 0, len(sizes))
	for n := range sizes {
		names = append(names, n)
	}
	sort.Strings(names)
	var script strings.Builder
	fmt.Fprintf(&script, "set -e; rm -rf %s; ", dir)
	for _, n := range names {
		p := dir + "/" + n
		fmt.Fprintf(&script, "mkdir -p $(dirname %s); head -c %d /dev/urandom > %s; ", p, sizes[n], p)
	}
	fmt.Fprintf(&script, "cd %s && sha256sum %s", dir, strings.Join(names, " "))
	sums := g.sha256sums(node, script.String())
	var out []testFile
	for _, n := range names {
		sum, ok := sums[n]
		if !ok {
			g.t.Fatalf("no sha256 of %s on %s: %v", n, node, sums)
		}
		out = append(out, testFile{path: dir + "/" + n, size: sizes[n], sha256: sum})
	}
	return out
}

// sha256sums runs a script whose output is sha256sum's: "HEX  NAME" lines.
func (g *gen) sha256sums(node, script string) map[string]string {
	g.t.Helper()
	sums := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(g.sh(node, script)), "\n") {
		hex, name, ok := strings.Cut(line, "  ")
		if !ok || len(hex) != 64 {
			g.t.Fatalf("on %s: not a sha256sum line: %q", node, line)
		}
		sums[name] = hex
	}
	return sums
}

// leftovers lists every entry under dir on a node, the temporary names of
// uploads included (the agent's file API hides those): what a transfer left
// there.
func (g *gen) leftovers(node, dir string) []string {
	g.t.Helper()
	out := strings.TrimSpace(g.sh(node, fmt.Sprintf("[ -d %s ] || exit 0; find %s -mindepth 1 | sort", dir, dir)))
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

func nodeURL(node, path string) string { return "node://" + node + "/" + path }

// submit sends a transfer job of files from src to dst (same paths with
// "in/" replaced by dstDir) with the user's sha256 of each file. A new job
// answers 201; a sid's existing job 200.
func (g *gen) submit(src, dst, dstDir string, files []testFile, retry, retryDelay int64, sid string) apiclient.TransferCreated {
	g.t.Helper()
	var sub []apiclient.SubmittedFile
	for _, f := range files {
		sub = append(sub, apiclient.SubmittedFile{
			Sources:      &[]string{nodeURL(src, f.path)},
			Destinations: &[]string{nodeURL(dst, dstDir+"/"+f.path[strings.Index(f.path, "/")+1:])},
			Checksum:     ptr("sha256:" + f.sha256),
			Filesize:     ptr(f.size),
		})
	}
	var verify apiclient.SubmissionParams_VerifyChecksum
	if err := verify.FromSubmissionParamsVerifyChecksum1(apiclient.SubmissionParamsVerifyChecksum1Both); err != nil {
		g.t.Fatal(err)
	}
	params := &apiclient.SubmissionParams{VerifyChecksum: &verify, Retry: ptr(retry), RetryDelay: ptr(retryDelay)}
	if sid != "" {
		params.IdGenerator = ptr(apiclient.SubmissionParamsIdGeneratorDeterministic)
		params.Sid = ptr(sid)
	}
	res, err := g.c.SubmitTransferWithResponse(ctxT(g.t, time.Minute), apiclient.TransferSubmission{Files: &sub, Params: params})
	check(g.t, "submit-transfer", res, err, http.StatusCreated, http.StatusOK)
	if res.JSON201 != nil {
		return *res.JSON201
	}
	// The document declares only the 201: the client leaves a 200's body
	// undecoded.
	var job apiclient.TransferCreated
	if err := json.Unmarshal(res.Body, &job); err != nil {
		g.t.Fatalf("submit-transfer: 200 with %q: %v", short(string(res.Body), 300), err)
	}
	return job
}

var finalTransfer = map[apiclient.TransferJobItemJobState]bool{
	apiclient.TransferJobItemJobStateFINISHED: true, apiclient.TransferJobItemJobStateFINISHEDDIRTY: true,
	apiclient.TransferJobItemJobStateFAILED: true, apiclient.TransferJobItemJobStateCANCELED: true,
}

func (g *gen) transfer(id string) (apiclient.TransferJobItem, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := g.c.GetTransferWithResponse(ctx, id)
	if err != nil {
		return apiclient.TransferJobItem{}, err
	}
	if e := unexpected("get-transfer "+id, res, http.StatusOK); e != nil {
		return apiclient.TransferJobItem{}, e
	}
	return *res.JSON200, nil
}

func describeJob(j apiclient.TransferJobItem) string {
	var b strings.Builder
	fmt.Fprintf(&b, "job %s %s", j.JobId, j.JobState)
	if r := deref(j.Reason); r != "" {
		fmt.Fprintf(&b, " (%s)", r)
	}
	for _, f := range deref(j.Files) {
		fmt.Fprintf(&b, "; %s %s %dB retry=%d", f.DestSurl, f.FileState, f.Filesize, f.Retry)
		if r := deref(f.Reason); r != "" {
			fmt.Fprintf(&b, " [%s]", short(r, 200))
		}
	}
	return b.String()
}

// waitTransfer polls a job until it reaches a final state.
func (g *gen) waitTransfer(id string, within time.Duration) apiclient.TransferJobItem {
	g.t.Helper()
	var j apiclient.TransferJobItem
	eventually(g.t, "transfer "+id+" final", within, 250*time.Millisecond, func() (bool, string) {
		cur, err := g.transfer(id)
		if err != nil {
			return false, err.Error()
		}
		j = cur
		return finalTransfer[j.JobState], describeJob(j)
	})
	return j
}

// TestTransferBetweenAgents: files of several sizes (empty, not a multiple
// of the copy buffer, in a subdirectory, 64 MiB) go from one agent
// container's file area to another's. The job finishes, every file is
// FINISHED with the engine's checksum equal to the user's, the destination
// node's own sha256sum gives the source's bytes, nothing else is left
// there, and submitting the same sid again returns the same job.
func TestTransferBetweenAgents(t *testing.T) {
	t.Parallel()
	tb := startTestbed(t, 4)
	g := tb.generated()
	r := g.reserve("transfer", 2, "20m")
	src, dst := deref(r.Nodes)[0], deref(r.Nodes)[1]

	const big = 64 << 20
	files := g.makeFiles(src, "in", map[string]int64{
		"empty.bin": 0, "small.txt": 1000, "sub/dir/odd.bin": 3<<20 + 12345, "big.bin": big})
	var total int64
	for _, f := range files {
		total += f.size
	}

	t0 := time.Now()
	sid := "e2e-" + randomHex(6)
	job := g.submit(src, dst, "out", files, 2, 1, sid)
	if job.Existed || job.FilesTotal != int64(len(files)) {
		t.Fatalf("submit-transfer: existed %v, %d files, want a new job of %d", job.Existed, job.FilesTotal, len(files))
	}
	again := g.submit(src, dst, "out", files, 2, 1, sid)
	if again.JobId != job.JobId || !again.Existed {
		t.Errorf("the same sid gave job %s, then %s (existed %v)", job.JobId, again.JobId, again.Existed)
	}

	done := g.waitTransfer(job.JobId, 3*time.Minute)
	took := time.Since(t0)
	t.Logf("%s in %s", describeJob(done), took.Round(time.Millisecond))
	if done.JobState != apiclient.TransferJobItemJobStateFINISHED {
		t.Fatalf("want FINISHED: %s", describeJob(done))
	}
	byDest := map[string]apiclient.TransferFileItem{}
	for _, f := range deref(done.Files) {
		byDest[f.DestSurl] = f
	}
	var bigRate float64
	for _, f := range files {
		dest := nodeURL(dst, "out/"+strings.TrimPrefix(f.path, "in/"))
		item, ok := byDest[dest]
		switch {
		case !ok:
			t.Errorf("no file item for %s: %s", dest, describeJob(done))
		case item.FileState != apiclient.TransferFileItemFileStateFINISHED:
			t.Errorf("%s: %s (%s)", dest, item.FileState, deref(item.Reason))
		case item.Filesize != f.size:
			t.Errorf("%s: %d bytes copied, the file has %d", dest, item.Filesize, f.size)
		case !strings.EqualFold(deref(item.DestChecksum), "sha256:"+f.sha256):
			t.Errorf("%s: destination checksum %q, want sha256:%s", dest, deref(item.DestChecksum), f.sha256)
		}
		if f.size == big {
			bigRate = item.Throughput
		}
	}

	// The destination's own view of its bytes.
	got := g.sha256sums(dst, "cd out && find . -type f | sed 's|^./||' | sort | xargs sha256sum")
	for _, f := range files {
		name := strings.TrimPrefix(f.path, "in/")
		if got[name] != f.sha256 {
			t.Errorf("on %s, out/%s has sha256 %q, the source had %s", dst, name, got[name], f.sha256)
		}
	}
	if len(got) != len(files) {
		t.Errorf("on %s, out/ holds %d files, want %d: %v", dst, len(got), len(files), got)
	}
	for _, e := range g.leftovers(dst, "out") {
		if strings.Contains(e, ".gridflow-tmp-") {
			t.Errorf("on %s: temporary upload left behind: %s", dst, e)
		}
	}
	record(t, sectionInvariant, "transfer node→node through the generated client",
		"%d files, %s, FINISHED in %s (64 MiB file at %.0f MB/s), sha256 equal on both nodes, same sid → same job",
		len(files), humanBytes(total), took.Round(time.Millisecond), bigRate/1e6)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " B"
}

// startAgent starts a stopped node's agent container again, on the same
// filesystem and network alias.
func (tb *testbed) startAgent(node string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := tb.agents[node].Start(ctx); err != nil {
		tb.t.Fatalf("starting agent %s again: %v", node, err)
	}
}

// faultSize is the size of the file a fault interrupts, and sourceCPUs the
// share of a CPU its source agent gets (it hashes what it serves): together
// they keep the copy running for seconds, so that the fault lands mid-copy.
const (
	faultSize  = 256 << 20
	sourceCPUs = 0.05
)

// throttleAgent limits a node's agent container to a share of a CPU.
func (tb *testbed) throttleAgent(node string, cpus float64) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dc, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		tb.t.Fatalf("docker client: %v", err)
	}
	defer dc.Close()
	if _, err := dc.ContainerUpdate(ctx, tb.agents[node].GetContainerID(), client.ContainerUpdateOptions{
		Resources: &container.Resources{NanoCPUs: int64(cpus * 1e9)}}); err != nil {
		tb.t.Fatalf("limiting agent %s to %.2f CPU: %v", node, cpus, err)
	}
}

// uploading reads the sizes of the temporary uploads under dir on a node:
// what the agent has received of a file being copied to it.
func (g *gen) uploading(node, dir string) ([]int64, error) {
	out, code, err := g.shErr(node, fmt.Sprintf(`for f in %s/.gridflow-tmp-*; do [ -f "$f" ] && wc -c < "$f"; done; true`, dir), 30*time.Second)
	if err != nil || code != 0 {
		return nil, fmt.Errorf("exit %d: %v: %s", code, err, out)
	}
	var sizes []int64
	for _, f := range strings.Fields(out) {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("not a size: %q", f)
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}

// TestTransferAgentKilledMidCopy: an agent container is stopped while a
// large file is being copied to or from it: the destination node holds
// part of it under a temporary name.
//
//   - source lost: the source agent stays down. The engine retries as the
//     job allows, then the file ends FAILED with a reason naming the
//     source; the destination holds neither the file nor a temporary
//     upload.
//   - destination restarted: the destination agent is stopped, then
//     started again on the same filesystem. The engine retries the file
//     and it ends FINISHED after at least one retry, with the source's
//     bytes; no temporary upload of the interrupted attempt is left.
func TestTransferAgentKilledMidCopy(t *testing.T) {
	t.Parallel()
	tb := startTestbed(t, 4)
	g := tb.generated()
	r := g.reserve("transfer-faults", 4, "30m")
	nodes := deref(r.Nodes)
	slices.Sort(nodes)

	leftTotal := 0
	for _, tc := range []struct {
		name     string
		src, dst string
		kill     string // the node whose agent is stopped
		restart  bool
	}{
		{name: "source-lost", src: nodes[0], dst: nodes[1], kill: nodes[0]},
		{name: "destination-restarted", src: nodes[2], dst: nodes[3], kill: nodes[3], restart: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &gen{t: t, tb: tb, c: g.c}
			files := g.makeFiles(tc.src, "in", map[string]int64{"large.bin": faultSize})
			tb.throttleAgent(tc.src, sourceCPUs)
			t0 := time.Now()
			// Retries: enough for a restarted agent to come back.
			job := g.submit(tc.src, tc.dst, "out", files, 4, 2, "")

			// Stop the agent once the destination holds part of the file.
			var part int64
			eventually(t, "copy under way", 2*time.Minute, 50*time.Millisecond, func() (bool, string) {
				sizes, err := g.uploading(tc.dst, "out")
				if err != nil {
					return false, err.Error()
				}
				if len(sizes) == 1 && sizes[0] > 0 && sizes[0] < faultSize {
					part = sizes[0]
					return true, ""
				}
				j, err := g.transfer(job.JobId)
				if err != nil {
					return false, err.Error()
				}
				if finalTransfer[j.JobState] {
					t.Fatalf("the job ended before the fault could be injected (make faultSize larger): %s", describeJob(j))
				}
				return false, fmt.Sprintf("uploads %v; %s", sizes, describeJob(j))
			})
			tb.stopAgent(tc.kill)
			killed := time.Now()
			t.Logf("stopped agent %s with %s of %s at the destination, %s after submission", tc.kill,
				humanBytes(part), humanBytes(faultSize), killed.Sub(t0).Round(time.Millisecond))
			if tc.restart {
				tb.throttleAgent(tc.src, 1) // the retry need not crawl
				tb.startAgent(tc.kill)
				t.Logf("agent %s started again %s later", tc.kill, time.Since(killed).Round(time.Millisecond))
			}

			done := g.waitTransfer(job.JobId, 5*time.Minute)
			t.Logf("%s, %s after the fault", describeJob(done), time.Since(killed).Round(time.Millisecond))
			fs := deref(done.Files)
			if len(fs) != 1 {
				t.Fatalf("want one file: %s", describeJob(done))
			}
			f := fs[0]
			left := g.leftovers(tc.dst, "out")
			var tmp []string
			for _, e := range left {
				if strings.Contains(e, ".gridflow-tmp-") {
					tmp = append(tmp, e)
				}
			}
			leftTotal += len(tmp)
			if len(tmp) > 0 {
				t.Errorf("on %s: temporary uploads left behind by the interrupted copy: %v", tc.dst, tmp)
			}

			if !tc.restart {
				if done.JobState != apiclient.TransferJobItemJobStateFAILED || f.FileState != apiclient.TransferFileItemFileStateFAILED {
					t.Fatalf("want the job and the file FAILED with the source gone: %s", describeJob(done))
				}
				if !strings.Contains(deref(f.Reason), tc.src) {
					t.Errorf("the file's reason does not name the lost source %s: %q", tc.src, deref(f.Reason))
				}
				if len(left) > 0 {
					t.Errorf("on %s, out/ should be empty after a failed copy: %v", tc.dst, left)
				}
				record(t, sectionFault, "source agent stopped mid-transfer ("+humanBytes(faultSize)+")",
					"stopped at %s received; file FAILED after %d retries, %s later, reason names %s; destination empty (no file, no temporary upload)",
					humanBytes(part), f.Retry, time.Since(killed).Round(time.Second), tc.src)
				return
			}

			if done.JobState != apiclient.TransferJobItemJobStateFINISHED || f.FileState != apiclient.TransferFileItemFileStateFINISHED {
				t.Fatalf("want the file FINISHED after the destination came back: %s", describeJob(done))
			}
			if f.Retry < 1 {
				t.Errorf("the file shows %d retries after its copy was interrupted", f.Retry)
			}
			got := g.sha256sums(tc.dst, "cd out && sha256sum large.bin")
			if got["large.bin"] != files[0].sha256 {
				t.Errorf("on %s, out/large.bin has sha256 %q, the source had %s", tc.dst, got["large.bin"], files[0].sha256)
			}
			if len(left) != 1 {
				t.Errorf("on %s, out/ holds %v, want large.bin only", tc.dst, left)
			}
			record(t, sectionFault, "destination agent stopped and restarted mid-transfer ("+humanBytes(faultSize)+")",
				"stopped at %s received; file FINISHED after %d retries, %s later, sha256 equal on both nodes, temporary uploads left: %d",
				humanBytes(part), f.Retry, time.Since(killed).Round(time.Second), len(tmp))
		})
	}
	record(t, sectionInvariant, "no transfer leaves a partial or unverified file",
		"2 copies of %s interrupted: %d temporary uploads left at the destinations", humanBytes(faultSize), leftTotal)
}
