package storage

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/gridflow/gridflow/agent/checksum"
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
