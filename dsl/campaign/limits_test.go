package campaign

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestTooManyBlocks: the block limit is a diagnostic on the first block past it.
func TestTooManyBlocks(t *testing.T) {
	var b strings.Builder
	b.WriteString("reservation \"exp\" {\n  site  = \"rennes\"\n  nodes = 1\n}\n")
	for i := 1; i < MaxBlocks; i++ {
		fmt.Fprintf(&b, "run \"r%d\" {\n  nodes   = reservation.exp.nodes\n  command = \"true\"\n}\n", i)
	}
	start := time.Now()
	c := mustLoad(t, b.String(), Input{})
	t.Logf("%d blocks loaded in %v", len(c.Steps), time.Since(start))
	if len(c.Steps) != MaxBlocks {
		t.Fatalf("%d steps", len(c.Steps))
	}
	b.WriteString("run \"one_too_many\" {\n  nodes   = reservation.exp.nodes\n  command = \"true\"\n}\n")
	out := loadErr(t, b.String(), Input{})
	if !strings.Contains(out, "Too many blocks") || !strings.Contains(out, "one_too_many") {
		t.Errorf("got:\n%.500s", out)
	}
}

func TestFileTooLarge(t *testing.T) {
	src := "# " + strings.Repeat("x", MaxSourceBytes) + "\n"
	out := loadErr(t, src, Input{})
	if !strings.Contains(out, "File too large") {
		t.Errorf("got:\n%.500s", out)
	}
}

// TestHostileNesting feeds inputs that would make the recursive HCL parser
// or evaluator overflow the stack, which no recover() can catch. Each must
// end with a diagnostic, quickly.
func TestHostileNesting(t *testing.T) {
	const n = 90000
	cases := map[string]string{
		"brackets":     "a = " + strings.Repeat("[", n),
		"parens":       "a = " + strings.Repeat("(", n) + "1" + strings.Repeat(")", n),
		"braces":       "a = " + strings.Repeat("{x=", n),
		"blocks":       strings.Repeat("locals {\n", n),
		"bang":         "locals {\n a = " + strings.Repeat("!", n) + "true\n}\n",
		"minus":        "locals {\n a = " + strings.Repeat("-", n) + "1\n}\n",
		"sum":          "locals {\n a = " + strings.Repeat("1 + ", n) + "1\n}\n",
		"conditional":  "locals {\n a = " + strings.Repeat("true ? 1 : ", n/4) + "2\n}\n",
		"interp":       "locals {\n a = " + strings.Repeat(`"${`, n/10) + "\n}\n",
		"directives":   "locals {\n a = \"" + strings.Repeat("%{ if true }", n/10) + "\"\n}\n",
		"index":        "locals {\n a = x" + strings.Repeat("[x]", n) + "\n}\n",
		"for":          "locals {\n a = " + strings.Repeat("[for x in [1] : ", n/10) + "\n}\n",
		"multiline":    "locals {\n a = (1 +\n" + strings.Repeat("1 +\n", n) + "1)\n}\n",
		"list of sums": "locals {\n a = [" + strings.Repeat("1 + 1, ", n/10) + "]\n}\n",
	}
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			if len(src) > MaxSourceBytes {
				t.Fatalf("case is %d bytes, over the size limit: it would not test nesting", len(src))
			}
			start := time.Now()
			p := NewParser()
			_, diags := p.Load(Input{Filename: "hostile.hcl", Source: []byte(src)})
			_ = Format([]byte(src)) // gridflow fmt must survive it too
			// Speed is the benchmarks' business; a blow-up shows as the test timeout.
			t.Logf("took %v", time.Since(start))
			if name == "list of sums" {
				if diags.HasErrors() {
					t.Errorf("a long flat list is not deep nesting:\n%.800s", FormatDiagnostics(p.Files(), diags))
				}
				return
			}
			if !diags.HasErrors() {
				t.Fatal("no error")
			}
			for _, d := range diags {
				if d.Summary == internalErrorSummary {
					t.Fatalf("internal error: %s", d.Detail)
				}
			}
		})
	}
}

// TestNestingJustUnderTheLimit: realistic deep expressions still load.
func TestNestingJustUnderTheLimit(t *testing.T) {
	src := "locals {\n  a = " + strings.Repeat("[", MaxNesting-2) + strings.Repeat("]", MaxNesting-2) + "\n}\n"
	mustLoad(t, src, Input{})
	src = "locals {\n  a = " + strings.Repeat("[", MaxNesting+1) + strings.Repeat("]", MaxNesting+1) + "\n}\n"
	if out := loadErr(t, src, Input{}); !strings.Contains(out, "Nesting too deep") {
		t.Errorf("got:\n%s", out)
	}
}

func TestExpansionLimits(t *testing.T) {
	var keys strings.Builder
	for i := 0; i <= MaxInstances; i++ {
		fmt.Fprintf(&keys, "k%d = %d\n", i, i)
	}
	src := fmt.Sprintf(`
variable "many" {
  default = {
%s  }
}
reservation "exp" {
  for_each = var.many
  site     = "rennes"
  nodes    = 1
}`, keys.String())
	if out := loadErr(t, src, Input{}); !strings.Contains(out, "for_each has 10001 elements, more than the 10000") {
		t.Errorf("got:\n%.600s", out)
	}
	out := loadErr(t, `
locals {
  big = range(5000)
}`, Input{})
	if !strings.Contains(out, "more than 1024 values") {
		t.Errorf("range is not capped:\n%s", out)
	}
	out = loadErr(t, `
locals {
  big = setproduct(range(1000), range(1000))
}`, Input{})
	if !strings.Contains(out, "more than 10000 elements") {
		t.Errorf("setproduct is not capped:\n%s", out)
	}
}

// TestManyInstancesChecked: two steps of 10000 instances load; past the
// budget, instances are checked once with an unknown index.
func TestManyInstancesChecked(t *testing.T) {
	start := time.Now()
	c := mustLoad(t, `
reservation "exp" {
  site  = "rennes"
  nodes = 1
}
run "a" {
  count   = 10000
  nodes   = reservation.exp.nodes
  command = "echo ${count.index}"
}
run "b" {
  count   = 10000
  nodes   = reservation.exp.nodes
  command = "echo ${count.index}"
}
output "x" {
  value = run.b[9999].exit_code
}`, Input{})
	t.Logf("loaded in %v", time.Since(start))
	a, b := c.Step("run.a").StaticInstances, c.Step("run.b").StaticInstances
	if len(a) != 10000 || len(b) != 10000 {
		t.Fatalf("%d, %d instances", len(a), len(b))
	}
	if got := a[9999].Spec.(*RunSpec).Command; got != "echo 9999" {
		t.Errorf("a[9999] = %q", got)
	}
	if _, pending := b[5].Spec.(*RunSpec).expr("command"); !pending {
		t.Errorf("b past the budget should have been checked with an unknown index")
	}
}
