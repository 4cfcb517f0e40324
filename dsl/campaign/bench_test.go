package campaign

import (
	"bytes"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// cpuTime is the process's user+system CPU time. On a shared machine the
// wall clock of a benchmark says more about the neighbours than about the
// code; CPU time per op is reported beside it.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// generatedCampaign writes a campaign of n blocks of every kind, each
// step referring to earlier ones, as a large real campaign would.
func generatedCampaign(n int) []byte {
	var b strings.Builder
	b.WriteString(`variable "site" {
  type    = string
  default = "rennes"
}

locals {
  walltime = "2h"
  env      = { MODE = "bench" }
}
`)
	blocks := 2
	for i := 0; blocks < n; i++ {
		fmt.Fprintf(&b, `
reservation "r%[1]d" {
  site     = var.site
  nodes    = 4
  walltime = local.walltime
  types    = ["deploy"]
}
`, i)
		blocks++
		kinds := []string{
			fmt.Sprintf(`
deployment "d%[1]d" {
  environment = "debian12-min@2024.1"
  nodes       = reservation.r%[1]d.nodes
  timeouts {
    write = "10m"
  }
  on_failure {
    retry {
      attempts = 2
      backoff  = "30s"
    }
  }
}
`, i),
			fmt.Sprintf(`
transfer "t%[1]d" {
  files {
    source      = "http://data.example.org/set-%[1]d.tar"
    destination = "node://${deployment.d%[1]d.ok_nodes[0]}/tmp/set.tar"
    checksum    = "sha256"
  }
  priority = 4
}
`, i),
			fmt.Sprintf(`
container "c%[1]d" {
  node  = deployment.d%[1]d.ok_nodes[0]
  image = "redis:7"
  env   = local.env
  ports = { "6379" = 6379 }
  init {
    command = "redis-server"
  }
  depends_on = [transfer.t%[1]d]
}
`, i),
			fmt.Sprintf(`
run "b%[1]d" {
  count      = 3
  nodes      = nodes_take(deployment.d%[1]d.ok_nodes, 2)
  command    = "bench --rep ${count.index} --server ${container.c%[1]d.node}"
  env        = merge(local.env, { REP = tostring(count.index) })
  on_failure = "continue"
  timeout    = "30m"
}
`, i),
			fmt.Sprintf(`
output "o%[1]d" {
  value = run.b%[1]d[*].exit_code
}
`, i),
		}
		for _, k := range kinds {
			if blocks >= n {
				break
			}
			b.WriteString(k)
			blocks++
		}
	}
	return []byte(b.String())
}

// behindCycle is the generated campaign with its first reservation waiting
// for the run that needs it, and every other reservation waiting for the
// run before it: one cycle, and the whole campaign behind it.
func behindCycle(n int) []byte {
	src := generatedCampaign(n)
	var b bytes.Buffer
	for i, part := range bytes.Split(src, []byte("\nreservation \"r")) {
		if i == 0 {
			b.Write(part)
			continue
		}
		b.WriteString("\nreservation \"r")
		line, rest, _ := bytes.Cut(part, []byte("\n"))
		b.Write(line)
		fmt.Fprintf(&b, "\n  depends_on = [run.b%d]\n", max(i-2, 0))
		b.Write(rest)
	}
	return b.Bytes()
}

// BenchmarkLoad1000 validates a generated 1000-block campaign (target: < 100 ms/op).
func BenchmarkLoad1000(b *testing.B) {
	src := generatedCampaign(1000)
	p := NewParser()
	if _, diags := p.Load(Input{Filename: "bench.hcl", Source: src}); len(diags) > 0 {
		b.Fatalf("generated campaign has diagnostics:\n%s", FormatDiagnostics(p.Files(), diags))
	}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for i := 0; i < b.N; i++ {
		if _, diags := Load(Input{Filename: "bench.hcl", Source: src}); diags.HasErrors() {
			b.Fatal(diags)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// BenchmarkLoadExamples validates the example campaigns, the common case.
func BenchmarkLoadExamples(b *testing.B) {
	files := exampleFiles(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, f := range files {
			if _, diags := Load(Input{Filename: f, Inventory: fakeTestbed()}); diags.HasErrors() {
				b.Fatal(diags)
			}
		}
	}
}

// BenchmarkHCLParse1000 is HCL's own parse of the same file as
// BenchmarkLoad1000, without any of our checks, in one piece. Load parses it
// block by block (see parseConfig), which costs less than this.
func BenchmarkHCLParse1000(b *testing.B) {
	src := generatedCampaign(1000)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for i := 0; i < b.N; i++ {
		if _, diags := hclsyntax.ParseConfig(src, "bench.hcl", hcl.InitialPos); diags.HasErrors() {
			b.Fatal(diags)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// BenchmarkLoadRenamed1000 validates the 1000-block campaign with its
// reservations renamed, so that every deployment refers to an undeclared
// step and gets a suggestion: a mistake must not cost much more than a
// valid file.
func BenchmarkLoadRenamed1000(b *testing.B) {
	src := bytes.ReplaceAll(generatedCampaign(1000), []byte("reservation.r"), []byte("reservation.rr"))
	benchmarkBroken(b, src)
}

// BenchmarkLoadBehindCycle1000 validates the 1000-block campaign with one
// dependency cycle that every other step waits behind.
func BenchmarkLoadBehindCycle1000(b *testing.B) {
	benchmarkBroken(b, behindCycle(1000))
}

func benchmarkBroken(b *testing.B, src []byte) {
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for i := 0; i < b.N; i++ {
		if _, diags := Load(Input{Filename: "bench.hcl", Source: src}); !diags.HasErrors() {
			b.Fatal("no errors")
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}
