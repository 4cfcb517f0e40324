package testbed

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// nodesBlock returns a cluster body line declaring count nodes named prefix-%d.
func nodesBlock(prefix string, first, count int) string {
	return fmt.Sprintf(`
    nodes {
      count = %d
      first = %d
      name  = "%s-%%d"
      properties {
        cores  = 1
        memory = "1GiB"
      }
    }`, count, first, prefix)
}

func oneCluster(body string) []byte {
	return []byte("site \"s\" {\n  cluster \"c\" {\n    driver \"sim\" {}" + body + "\n  }\n}\n")
}

// TestHostileInput feeds inputs built to exhaust the parser. Each must end
// with a diagnostic quickly, without crashing the process; a stack overflow
// in the HCL parser is fatal and would kill this test binary.
func TestHostileInput(t *testing.T) {
	cases := []struct {
		name    string
		src     []byte
		summary string
	}{
		{"too large", []byte("# " + strings.Repeat("x", MaxSourceSize)), "Testbed file too large"},
		{"unclosed brackets", []byte("site \"s\" {\n  description = " + strings.Repeat("[", 900000) + "\n}\n"), "Too deeply nested"},
		{"nested parentheses", []byte("site \"s\" {\n  latitude = " + strings.Repeat("(", 400000) + "1" + strings.Repeat(")", 400000) + "\n}\n"), "Too deeply nested"},
		{"nested blocks", []byte(strings.Repeat("a {\n", 200000)), "Too deeply nested"},
		{"nested templates", []byte("site \"s\" {\n  name = " + strings.Repeat("\"${", 100000) + "\n}\n"), "Too deeply nested"},
		{"unary chain", []byte("site \"s\" {\n  latitude = " + strings.Repeat("-", 900000) + "1\n}\n"), "Expression too complex"},
		{"unary chain over lines", []byte("site \"s\" {\n  queues = [" + strings.Repeat("!\n", 200000) + "true]\n}\n"), "Expression too complex"},
		{"conditional chain", []byte("site \"s\" {\n  latitude = " + strings.Repeat("true ? 1 : ", 50000) + "1\n}\n"), "Expression too complex"},
		{"binary chain", []byte("site \"s\" {\n  latitude = 1" + strings.Repeat("+1", 400000) + "\n}\n"), "Expression too complex"},
		{"count over block limit", oneCluster(nodesBlock("a", 1, MaxNodesPerBlock+1)), "Too many nodes in one block"},
		{"count huge", oneCluster(strings.Replace(nodesBlock("a", 1, 1), "count = 1", "count = 1e30", 1)), "Too many nodes in one block"},
		// Formatting numbers costs time linear in their exponent.
		{"huge number", []byte("site \"s\" {\n  latitude = 1e99999999\n}\n"), "Number out of range"},
		{"huge number in template", []byte("site \"s\" {\n  name = \"${1e99999999}\"\n}\n"), "Number out of range"},
		{"tiny number", []byte("site \"s\" {\n  latitude = 1e-99999999\n}\n"), "Number out of range"},
		{"total over limit", oneCluster(nodesBlock("a", 1, MaxNodesPerBlock) + nodesBlock("b", 1, MaxNodesPerBlock) + nodesBlock("c", 1, 1)), "Too many nodes"},
		{"first huge", oneCluster(nodesBlock("a", 2000000000, 1)), "Invalid value for \"first\""},
		{"for bomb", []byte("site \"s\" {\n  description = [for a in [1,2,3,4,5,6,7,8,9,10] : [for b in [1,2,3,4,5,6,7,8,9,10] : [for c in [1,2,3,4,5,6,7,8,9,10] : [for d in [1,2,3,4,5,6,7,8,9,10] : [for e in [1,2,3,4,5,6,7,8,9,10] : [for f in [1,2,3,4,5,6,7,8,9,10] : f]]]]]]\n}\n"), "Dynamic expression not allowed"},
		// units.ParseDuration overflows on this; the value is refused either
		// as invalid or as longer than a day.
		{"huge duration", []byte("site \"s\" {\n  cluster \"c\" {\n    driver \"sim\" {\n      boot_time = \"999999999:00:00\"\n    }" + nodesBlock("a", 1, 1) + "\n  }\n}\n"), "Invalid"},
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if testing.Short() && len(c.src) > 64<<10 {
				t.Skip("large input; lexing it takes seconds on a loaded machine")
			}
			start := time.Now()
			p := NewParser()
			tb, diags := p.Parse(c.src, "hostile.hcl")
			if tb != nil || !diags.HasErrors() {
				t.Fatalf("accepted")
			}
			found := false
			for _, d := range diags {
				if strings.HasPrefix(d.Summary, c.summary) {
					found = true
				}
				if d.Subject == nil {
					t.Errorf("diagnostic without subject: %s", d.Summary)
				}
			}
			if !found {
				t.Errorf("want %q among %v", c.summary, summaries(diags))
			}
			_ = FormatDiagnostics(p.Files(), diags)
			// Speed is the benchmarks' business; a blow-up shows as the test timeout.
			t.Logf("took %v", time.Since(start))
		})
	}
}

// TestNodeLimitsDoNotAllocate checks that a testbed over MaxNodes is refused
// before nodes are allocated: the cost must not grow with the counts.
func TestNodeLimitsDoNotAllocate(t *testing.T) {
	src := oneCluster(nodesBlock("a", 1, MaxNodesPerBlock) + nodesBlock("b", 1, MaxNodesPerBlock) + nodesBlock("c", 1, MaxNodesPerBlock))
	Parse(src, "warmup.hcl")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, diags := Parse(src, "big.hcl")
	runtime.ReadMemStats(&after)
	if !diags.HasErrors() {
		t.Fatal("accepted 300000 nodes")
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("refusing the testbed allocated %d bytes; nodes were expanded before the limit check", grew)
	}
}

// TestMaxNodesAccepted checks the limits are inclusive and that a testbed at
// the limit parses.
func TestMaxNodesAccepted(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 200000 nodes")
	}
	src := oneCluster(nodesBlock("a", 1, MaxNodesPerBlock) + nodesBlock("b", 1, MaxNodes-MaxNodesPerBlock))
	tb, diags := Parse(src, "max.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if n := len(tb.Nodes()); n != MaxNodes {
		t.Fatalf("%d nodes", n)
	}
	if tb.Node("b-100000") == nil || tb.Node("a-100001") != nil {
		t.Error("lookups wrong at the limit")
	}
}

// TestDuplicateNodesReportedPerBlock checks that two overlapping runs of
// 100000 nodes yield one diagnostic, not 100000.
func TestDuplicateNodesReportedPerBlock(t *testing.T) {
	src := oneCluster(nodesBlock("a", 1, MaxNodesPerBlock) + nodesBlock("a", 1, MaxNodesPerBlock))
	_, diags := Parse(src, "dup.hcl")
	if len(diags) != 1 || diags[0].Summary != "Duplicate node uid" {
		t.Fatalf("want one duplicate diagnostic, got %d: %v", len(diags), summaries(diags))
	}
	if !strings.Contains(diags[0].Detail, "100000 node uids") {
		t.Errorf("detail does not count the duplicates: %s", diags[0].Detail)
	}
}

func TestParseFileErrors(t *testing.T) {
	dir := t.TempDir()
	p := NewParser()
	_, diags := p.ParseFile(filepath.Join(dir, "missing.hcl"))
	if !diags.HasErrors() || diags[0].Summary != "Cannot read testbed file" || diags[0].Subject == nil {
		t.Errorf("missing file: %v", diags)
	}
	_, diags = p.ParseFile(dir)
	if !diags.HasErrors() || diags[0].Subject == nil {
		t.Errorf("directory: %v", diags)
	}

	big := filepath.Join(dir, "big.hcl")
	if err := os.WriteFile(big, []byte(strings.Repeat("#\n", MaxSourceSize/2+1)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, diags = p.ParseFile(big)
	if !diags.HasErrors() || diags[0].Summary != "Testbed file too large" {
		t.Errorf("big file: %v", diags)
	}
	if out := FormatDiagnostics(p.Files(), diags); !strings.HasPrefix(out, big+":1:1: Error: Testbed file too large") || !strings.Contains(out, "   1: #") {
		t.Errorf("big file rendering:\n%.300s", out)
	}
}
