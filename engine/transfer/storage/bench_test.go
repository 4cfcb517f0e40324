package storage

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gridflow/gridflow/agent/checksum"
	"github.com/gridflow/gridflow/engine/hw"
)

// benchSize is the file the copy benchmarks move.
const benchSize = 64 << 20

// benchSource writes a file of benchSize random bytes in a new root.
func benchSource(b *testing.B) (root, src string, data []byte) {
	b.Helper()
	root = b.TempDir()
	src = filepath.Join(root, "src.bin")
	data = randBytes(benchSize)
	must(b, os.WriteFile(src, data, 0o644))
	return root, src, data
}

// BenchmarkCopyFileToFile copies a 64 MiB file between two files of one
// root, as Copy does it: hashing, fsync, rename (and reading back for the
// "both" mode). Compare with BenchmarkBareIOCopy.
func BenchmarkCopyFileToFile(b *testing.B) {
	root, src, data := benchSource(b)
	e := &Endpoints{Policy: Policy{FileRoots: []string{root}}}
	srcURL := mustParse(b, "file://"+src)
	dstURL := mustParse(b, "file://"+filepath.Join(root, "dst.bin"))
	for _, tc := range []struct {
		name string
		algo string
		mode Verify
	}{
		{"sha256/none", checksum.SHA256, VerifyNone},
		{"sha256/both", checksum.SHA256, VerifyBoth},
		{"adler32/none", checksum.Adler32, VerifyNone},
		{"adler32/both", checksum.Adler32, VerifyBoth},
		{"md5/none", checksum.MD5, VerifyNone},
	} {
		b.Run(tc.name, func(b *testing.B) {
			// The user's checksum chooses the algorithm.
			req := CopyRequest{ID: "bench", Sources: []URL{srcURL}, Destination: dstURL, Overwrite: true, Verify: tc.mode,
				Checksum: sumOf(b, tc.algo, data)}
			b.SetBytes(benchSize)
			b.ResetTimer()
			for b.Loop() {
				if _, err := e.Copy(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBareIOCopy is the floor: io.Copy between the same files (the
// kernel copies, with copy_file_range, without the bytes entering the
// process), then the same through a 1 MiB buffer in user space as Copy
// moves them, with and without fsync.
func BenchmarkBareIOCopy(b *testing.B) {
	_, src, _ := benchSource(b)
	dst := filepath.Join(filepath.Dir(src), "dst.bin")
	run := func(b *testing.B, userspace, sync bool) {
		b.SetBytes(benchSize)
		buf := make([]byte, BufferSize)
		for b.Loop() {
			in, err := os.Open(src)
			must(b, err)
			out, err := os.Create(dst)
			must(b, err)
			if userspace {
				// Hide ReaderFrom/WriterTo so that the bytes pass the buffer.
				_, err = io.CopyBuffer(struct{ io.Writer }{out}, struct{ io.Reader }{in}, buf)
			} else {
				_, err = io.Copy(out, in)
			}
			must(b, err)
			if sync {
				must(b, out.Sync())
			}
			must(b, out.Close())
			in.Close()
		}
	}
	b.Run("io.Copy", func(b *testing.B) { run(b, false, false) })
	b.Run("io.Copy+fsync", func(b *testing.B) { run(b, false, true) })
	b.Run("buffer", func(b *testing.B) { run(b, true, false) })
	b.Run("buffer+fsync", func(b *testing.B) { run(b, true, true) })
}

// BenchmarkCopyAgentToAgent copies a 64 MiB file between two agents served
// in this process (node://a → node://b, the user's checksum given and
// verified at both ends), as a third-party copy (b fetches from a) and
// through the engine (ProxyNodeCopies), each beside a plain GET of the same file from agent A
// to io.Discard (what curl does) in the same iterations. Everything shares
// this process, so the figures compare code paths, not deployments: see
// cmd/gridflow's BenchmarkTransferAgentToAgent for agents as processes.
func BenchmarkCopyAgentToAgent(b *testing.B) {
	ca, dirA := startAgent(b, "a")
	cb, _ := startAgent(b, "b")
	data := randBytes(benchSize)
	must(b, os.WriteFile(filepath.Join(dirA, "src.bin"), data, 0o644))
	for _, tc := range []struct {
		name, algo string
		proxy      bool
	}{
		{"third-party/adler32", checksum.Adler32, false},
		{"proxy/adler32", checksum.Adler32, true},
		{"third-party/sha256", checksum.SHA256, false},
		{"proxy/sha256", checksum.SHA256, true},
	} {
		e := &Endpoints{Nodes: nodeMap(map[string]hw.Files{"a": ca, "b": cb}), ProxyNodeCopies: tc.proxy}
		algo := tc.algo
		b.Run(tc.name, func(b *testing.B) {
			req := CopyRequest{ID: "bench", Sources: []URL{mustParse(b, "node://a/src.bin")}, Destination: mustParse(b, "node://b/dst.bin"),
				Overwrite: true, Verify: VerifyBoth, Checksum: sumOf(b, algo, data), FileSize: benchSize}
			var copyDur, getDur, copyCPU, getCPU time.Duration
			for b.Loop() {
				c0 := cpuTime(b)
				t0 := time.Now()
				dl, err := ca.Get(context.Background(), "a", "src.bin", algo)
				must(b, err)
				n, err := io.Copy(io.Discard, dl)
				must(b, errors.Join(err, dl.Close()))
				if n != benchSize {
					b.Fatalf("GET: %d bytes", n)
				}
				getDur += time.Since(t0)
				c1 := cpuTime(b)
				getCPU += c1 - c0
				t0 = time.Now()
				if _, err := e.Copy(context.Background(), req); err != nil {
					b.Fatal(err)
				}
				copyDur += time.Since(t0)
				copyCPU += cpuTime(b) - c1
			}
			mibs := func(d time.Duration) float64 { return float64(benchSize) * float64(b.N) / (1 << 20) / d.Seconds() }
			b.ReportMetric(mibs(copyDur), "copy-MiB/s")
			b.ReportMetric(mibs(getDur), "get-MiB/s")
			b.ReportMetric(mibs(copyDur)/mibs(getDur), "ratio")
			// CPU time (user and system, of the process: the agents and
			// the copy) per GiB moved: steadier than wall time on a
			// loaded machine.
			gib := float64(benchSize) * float64(b.N) / (1 << 30)
			b.ReportMetric(copyCPU.Seconds()/gib, "copy-cpu-s/GiB")
			b.ReportMetric(getCPU.Seconds()/gib, "get-cpu-s/GiB")
		})
	}
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
