package campaign

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// mustLoad loads a campaign from source and fails the test on any diagnostic.
func mustLoad(t *testing.T, src string, in Input) *Campaign {
	t.Helper()
	if in.Filename == "" {
		in.Filename = "test.hcl"
	}
	in.Source = []byte(src)
	p := NewParser()
	c, diags := p.Load(in)
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:\n%s", FormatDiagnostics(p.Files(), diags))
	}
	return c
}

// loadErr loads a campaign that must fail and returns the rendered diagnostics.
func loadErr(t *testing.T, src string, in Input) string {
	t.Helper()
	if in.Filename == "" {
		in.Filename = "test.hcl"
	}
	in.Source = []byte(src)
	p := NewParser()
	c, diags := p.Load(in)
	if !diags.HasErrors() {
		t.Fatalf("loaded without errors")
	}
	if c != nil {
		t.Fatalf("a campaign came back with errors")
	}
	return FormatDiagnostics(p.Files(), diags)
}

// TestValidFixtures loads each campaign of testdata/valid, with and without
// an inventory, and checks the step order and levels given in its header:
//
//	# order: reservation.exp, run.a
//	# levels: 0, 1
func TestValidFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*.hcl")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var wantOrder []string
			var wantLevels []int
			sc := bufio.NewScanner(bytes.NewReader(src))
			for sc.Scan() {
				line := sc.Text()
				if v, ok := strings.CutPrefix(line, "# order: "); ok {
					wantOrder = strings.Split(v, ", ")
				}
				if v, ok := strings.CutPrefix(line, "# levels: "); ok {
					for _, n := range strings.Split(v, ", ") {
						i, _ := strconv.Atoi(n)
						wantLevels = append(wantLevels, i)
					}
				}
			}
			for _, inv := range []Inventory{nil, fakeTestbed()} {
				c := mustLoad(t, string(src), Input{Filename: path, Inventory: inv})
				var order []string
				var levels []int
				for _, st := range c.Steps {
					order = append(order, st.Address)
					levels = append(levels, st.Level)
				}
				if !reflect.DeepEqual(order, wantOrder) {
					t.Errorf("order = %v, want %v", order, wantOrder)
				}
				if !reflect.DeepEqual(levels, wantLevels) {
					t.Errorf("levels = %v, want %v", levels, wantLevels)
				}
			}
		})
	}
}

func TestDependsOnExplicitAndImplicit(t *testing.T) {
	c := mustLoad(t, `
reservation "a" {
  site  = "rennes"
  nodes = 1
}
reservation "b" {
  site  = "lyon"
  nodes = 1
}
run "setup" {
  nodes   = reservation.b.nodes
  command = "true"
}
run "x" {
  count      = length(reservation.a.nodes)
  nodes      = [reservation.b.nodes[count.index]]
  command    = "true"
  depends_on = [run.setup, reservation.b]
}
output "o" {
  value = [run.x[*].exit_code, reservation.a.id]
}
`, Input{})
	x := c.Step("run.x")
	if want := []string{"reservation.a", "reservation.b", "run.setup"}; !reflect.DeepEqual(x.DependsOn, want) {
		t.Errorf("DependsOn = %v, want %v", x.DependsOn, want)
	}
	if x.Level != 2 {
		t.Errorf("level = %d, want 2", x.Level)
	}
	if x.StaticInstances != nil {
		t.Errorf("count depends on a reservation, so instances are known only at run time; got %v", x.StaticInstances)
	}
	if want := []string{"run.x", "reservation.a"}; !reflect.DeepEqual(c.Outputs[0].DependsOn, want) {
		t.Errorf("output DependsOn = %v, want %v", c.Outputs[0].DependsOn, want)
	}
}

func TestVariablePrecedence(t *testing.T) {
	src := `
variable "a" {
  default = "default"
}
variable "b" {
  default = "default"
}
variable "c" {
  default = "default"
}
variable "d" {
  default = "default"
}
variable "n" {
  type    = number
  default = 1
}
variable "sites" {
  type    = list(string)
  default = []
}
variable "opts" {
  type = object({
    gpus  = optional(number, 1)
    label = string
  })
  default = { label = "x" }
}
`
	dir := t.TempDir()
	vf := filepath.Join(dir, "vars.hcl")
	if err := os.WriteFile(vf, []byte("b = \"file\"\nc = \"file\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := mustLoad(t, src, Input{
		Env:      []string{"GRIDFLOW_VAR_a=env", "GRIDFLOW_VAR_b=env", "GRIDFLOW_VAR_c=env", "OTHER=1", "GRIDFLOW_VAR_unknown=ignored"},
		VarFiles: []string{vf},
		Vars:     map[string]string{"c": "flag", "n": "4", "sites": `["rennes", "lyon"]`},
	})
	for name, want := range map[string]string{"a": "env", "b": "file", "c": "flag", "d": "default"} {
		if got := c.Variables[name].Value.AsString(); got != want {
			t.Errorf("var.%s = %q, want %q", name, got, want)
		}
	}
	if src := c.Variables["b"].Source; src != vf {
		t.Errorf("var.b source = %q, want %q", src, vf)
	}
	if !c.Variables["n"].Value.RawEquals(cty.NumberIntVal(4)) {
		t.Errorf("var.n = %#v", c.Variables["n"].Value)
	}
	if got := c.Variables["sites"].Value; got.LengthInt() != 2 {
		t.Errorf("var.sites = %#v", got)
	}
	if got := c.Variables["opts"].Value.GetAttr("gpus"); !got.RawEquals(cty.NumberIntVal(1)) {
		t.Errorf("optional default not applied: %#v", got)
	}
}

func TestVariableValidationPasses(t *testing.T) {
	src := `
variable "nodes" {
  type = number
  validation {
    condition     = var.nodes > 0 && var.nodes <= 10
    error_message = "1 to 10."
  }
}`
	mustLoad(t, src, Input{Vars: map[string]string{"nodes": "3"}})
	out := loadErr(t, src, Input{Vars: map[string]string{"nodes": "30"}})
	if !strings.Contains(out, "1 to 10.") {
		t.Errorf("error message not shown:\n%s", out)
	}
}

func TestFailurePolicies(t *testing.T) {
	c := mustLoad(t, `
reservation "exp" {
  site       = "rennes"
  nodes      = 1
  on_failure = "continue"
  timeout    = "2h"
}
run "a" {
  nodes   = reservation.exp.nodes
  command = "true"
  on_failure {
    retry {
      attempts = 4
      backoff  = "1m"
    }
    then = "continue"
  }
}
run "b" {
  nodes   = reservation.exp.nodes
  command = "true"
  on_failure {
    retry {
      attempts = 2
    }
  }
}
run "c" {
  nodes   = reservation.exp.nodes
  command = "true"
}`, Input{})
	cases := map[string]FailurePolicy{
		"reservation.exp": {Then: Continue},
		"run.a":           {Then: Continue, Retry: &RetryPolicy{Attempts: 4, Backoff: time.Minute}},
		"run.b":           {Then: Abort, Retry: &RetryPolicy{Attempts: 2, Backoff: 10 * time.Second}},
		"run.c":           {Then: Abort},
	}
	for addr, want := range cases {
		if got := c.Step(addr).OnFailure; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: on_failure = %+v, want %+v", addr, got, want)
		}
	}
	if got := c.Step("reservation.exp").Timeout; got != 2*time.Hour {
		t.Errorf("timeout = %v", got)
	}
}

// TestStaticSpecs checks the values decoded during validation, and that the
// arguments that depend on step outputs are listed as pending.
func TestStaticSpecs(t *testing.T) {
	c := mustLoad(t, `
variable "sites" {
  default = { rennes = 2, lyon = 1 }
}
reservation "s" {
  for_each   = var.sites
  site       = each.key
  nodes      = each.value
  walltime   = "01:30:00"
  properties = { gpu_count = 1 }
  types      = ["deploy"]
}
deployment "os" {
  environment = "debian12-min@2024.1"
  nodes       = reservation.s["rennes"].nodes
  force       = true
  timeouts {
    write = "20m"
  }
}
run "r" {
  count   = 2
  nodes   = deployment.os.ok_nodes
  command = "echo ${count.index}"
  env     = { I = count.index }
}`, Input{})
	s := c.Step("reservation.s")
	if len(s.StaticInstances) != 2 {
		t.Fatalf("instances = %v", s.StaticInstances)
	}
	lyon := s.StaticInstances[0].Spec.(*ReservationSpec)
	if s.StaticInstances[0].Address != `reservation.s["lyon"]` || lyon.Site != "lyon" || lyon.Nodes != 1 ||
		lyon.Walltime != 90*time.Minute || !reflect.DeepEqual(lyon.Types, []string{"deploy"}) || len(lyon.Pending()) != 0 {
		t.Errorf("lyon = %+v", lyon)
	}
	d := c.Step("deployment.os").StaticInstances[0].Spec.(*DeploymentSpec)
	if d.Name != "debian12-min" || d.Version != "2024.1" || !d.Force || d.Timeouts.Write != 20*time.Minute {
		t.Errorf("deployment = %+v", d)
	}
	if want := []PendingArg{{Name: "nodes", Expr: `reservation.s["rennes"].nodes`}}; !reflect.DeepEqual(d.Pending(), want) {
		t.Errorf("pending = %v, want %v", d.Pending(), want)
	}
	r := c.Step("run.r").StaticInstances[1].Spec.(*RunSpec)
	if r.Command != "echo 1" || r.Env["I"] != "1" {
		t.Errorf("run[1] = %+v", r)
	}
}

// TestRuntimeEvaluation drives the API the engine uses: outputs recorded by
// earlier steps make the later steps' specs known.
func TestRuntimeEvaluation(t *testing.T) {
	c := mustLoad(t, `
reservation "exp" {
  site  = "rennes"
  nodes = 3
}
run "per_node" {
  for_each = toset(reservation.exp.nodes)
  nodes    = [each.key]
  command  = "hostname"
}
run "bench" {
  count   = length(reservation.exp.nodes) - 1
  nodes   = [nodes_skip(nodes_sort(reservation.exp.nodes), 1)[count.index]]
  command = "bench ${count.index}"
}
output "codes" {
  value = run.bench[*].exit_code
}
output "names" {
  value = { for k, r in run.per_node : k => r.stdout }
}`, Input{})

	outputs := map[string]cty.Value{}
	ctx := c.EvalContext(outputs)
	bench := c.Step("run.bench")
	if _, diags := bench.Expand(ctx); !diags.HasErrors() {
		t.Fatal("expanding before the reservation ran should fail")
	}

	res := c.Step("reservation.exp")
	insts, diags := res.Expand(ctx)
	if diags.HasErrors() || len(insts) != 1 {
		t.Fatalf("expand reservation: %v %v", insts, diags)
	}
	spec, diags := res.Decode(ctx, insts[0])
	if diags.HasErrors() || spec.(*ReservationSpec).Nodes != 3 {
		t.Fatalf("decode reservation: %+v %v", spec, diags)
	}
	resOut, err := res.OutputValue(insts, []cty.Value{cty.ObjectVal(map[string]cty.Value{
		"id":    cty.StringVal("42"),
		"site":  cty.StringVal("rennes"),
		"nodes": cty.ListVal([]cty.Value{cty.StringVal("paravance-10"), cty.StringVal("paravance-2"), cty.StringVal("paravance-3")}),
	})})
	if err != nil {
		t.Fatal(err)
	}
	outputs["reservation.exp"] = resOut
	ctx = c.EvalContext(outputs)

	insts, diags = bench.Expand(ctx)
	if diags.HasErrors() || len(insts) != 2 || insts[1].Address != "run.bench[1]" {
		t.Fatalf("expand bench: %v %v", insts, diags)
	}
	spec, diags = bench.Decode(ctx, insts[1])
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	rs := spec.(*RunSpec)
	if !reflect.DeepEqual(rs.Nodes, []string{"paravance-10"}) || rs.Command != "bench 1" || len(rs.Pending()) != 0 {
		t.Errorf("bench[1] = %+v", rs)
	}
	runOut := func(code int64) cty.Value {
		return cty.ObjectVal(map[string]cty.Value{
			"stdout": cty.StringVal("ok"), "stderr": cty.StringVal(""), "exit_code": cty.NumberIntVal(code),
			"results": cty.MapValEmpty(cty.Object(map[string]cty.Type{"stdout": cty.String, "stderr": cty.String, "exit_code": cty.Number})),
		})
	}
	benchOut, err := bench.OutputValue(insts, []cty.Value{runOut(0), runOut(3)})
	if err != nil {
		t.Fatal(err)
	}
	outputs["run.bench"] = benchOut

	per := c.Step("run.per_node")
	pinsts, diags := per.Expand(ctx)
	if diags.HasErrors() || len(pinsts) != 3 || pinsts[0].Address != `run.per_node["paravance-10"]` {
		t.Fatalf("expand per_node: %v %v", pinsts, diags)
	}
	perOut, err := per.OutputValue(pinsts, []cty.Value{runOut(0), runOut(0), runOut(0)})
	if err != nil {
		t.Fatal(err)
	}
	outputs["run.per_node"] = perOut

	ctx = c.EvalContext(outputs)
	codes, diags := c.Outputs[0].Value(ctx)
	if diags.HasErrors() || !codes.RawEquals(cty.TupleVal([]cty.Value{cty.NumberIntVal(0), cty.NumberIntVal(3)})) &&
		!codes.RawEquals(cty.ListVal([]cty.Value{cty.NumberIntVal(0), cty.NumberIntVal(3)})) {
		t.Errorf("codes = %#v %v", codes, diags)
	}
	names, diags := c.Outputs[1].Value(ctx)
	if diags.HasErrors() || names.LengthInt() != 3 {
		t.Errorf("names = %#v %v", names, diags)
	}

	if _, err := bench.OutputValue(insts, []cty.Value{runOut(0)}); err == nil {
		t.Error("OutputValue accepted fewer outputs than instances")
	}
	if _, err := bench.OutputValue(insts, []cty.Value{cty.StringVal("x"), runOut(0)}); err == nil {
		t.Error("OutputValue accepted an output of the wrong type")
	}
}

func TestPlan(t *testing.T) {
	c := mustLoad(t, `
reservation "a" {
  site    = "rennes"
  cluster = "paravance"
  nodes   = 2
}
reservation "b" {
  count = 2
  site  = "rennes"
  nodes = { parasilo = 1, paravance = 1 }
}
transfer "t" {
  files {
    source      = "http://example.org/x"
    destination = "node://${reservation.a.nodes[0]}/tmp/x"
  }
}
run "r" {
  for_each   = toset(reservation.a.nodes)
  nodes      = [each.key]
  command    = "true"
  on_failure = "continue"
}
output "o" {
  value = reservation.a.nodes
}`, Input{})
	p := c.Plan()
	if want := [][]string{{"reservation.a", "reservation.b"}, {"transfer.t", "run.r"}}; !reflect.DeepEqual(p.Levels, want) {
		t.Errorf("levels = %v, want %v", p.Levels, want)
	}
	if p.NodesBySite["rennes"] != 6 {
		t.Errorf("nodes by site = %v", p.NodesBySite)
	}
	if len(p.Steps[1].Reserves) != 4 || p.Steps[1].Reserves[0].Cluster != "parasilo" {
		t.Errorf("reserves = %+v", p.Steps[1].Reserves)
	}
	if len(p.Steps[2].Moves) != 1 || p.Steps[2].Moves[0].Sources[0] != "http://example.org/x" {
		t.Errorf("moves = %+v", p.Steps[2].Moves)
	}
	out := p.String()
	for _, want := range []string{
		"2 levels",
		"reserve 2 nodes of paravance on rennes for 1h",
		"[1]: reserve 1 node of parasilo + 1 node of paravance on rennes",
		"move 1 file: http://example.org/x → (\"node://${reservation.a.nodes[0]}/tmp/x\")",
		"for_each = toset(reservation.a.nodes), known at run time",
		"[each]: run `true` on ([each.key])",
		"on failure continue",
		"Nodes requested: rennes 6",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
}

func TestFormat(t *testing.T) {
	got := string(Format([]byte("run \"x\" {\nnodes=[]\n  command   =   \"true\"\n}\n")))
	want := "run \"x\" {\n  nodes   = []\n  command = \"true\"\n}\n"
	if got != want {
		t.Errorf("Format:\n%s\nwant:\n%s", got, want)
	}
	for _, f := range exampleFiles(t) {
		src, _ := os.ReadFile(f)
		if !bytes.Equal(Format(src), src) {
			t.Errorf("%s is not formatted (gridflow fmt would change it)", f)
		}
	}
}

func TestFormatDiagnosticsWithoutSource(t *testing.T) {
	r := hcl.Range{Filename: "gone.hcl", Start: hcl.Pos{Line: 3, Column: 5, Byte: 40}, End: hcl.Pos{Line: 3, Column: 9, Byte: 44}}
	out := FormatDiagnostics(nil, hcl.Diagnostics{
		{Severity: hcl.DiagError, Summary: "Boom", Detail: "Fix it.", Subject: &r},
		{Severity: hcl.DiagWarning, Summary: "Hmm", Detail: "Maybe."},
	})
	want := "gone.hcl:3:5: error: Boom\n  Fix it.\n\nwarning: Hmm\n  Maybe.\n"
	if out != want {
		t.Errorf("got:\n%q\nwant:\n%q", out, want)
	}
}

func TestLoadFromDisk(t *testing.T) {
	c, diags := Load(Input{Filename: "../../campaigns/examples/hello.hcl"})
	if len(diags) > 0 || c.Step("run.hostname") == nil {
		t.Fatalf("%v", diags)
	}
	_, diags = Load(Input{Filename: "testdata/does-not-exist.hcl"})
	if !diags.HasErrors() || !strings.Contains(diags[0].Detail, "no such file") {
		t.Errorf("diags = %v", diags)
	}
}

// TestNullsAreErrors: typed nulls reach the decoders through conversions;
// each must be a diagnostic, not a crash.
func TestNullsAreErrors(t *testing.T) {
	for _, body := range []string{
		`site = "rennes"
  nodes = { paravance = tonumber(null) }`,
		`site = "rennes"
  nodes = 1
  properties = { gpu_count = tonumber(null) }`,
		`site = "rennes"
  nodes = 1
  timeout = tostring(null)`,
		`site = "rennes"
  nodes = 1
  on_failure = tostring(null)`,
		`site = "rennes"
  nodes = 1
  count = tonumber(null)`,
		`site = tostring(null)
  nodes = 1`,
	} {
		out := loadErr(t, "reservation \"r\" {\n  "+body+"\n}\n", Input{Inventory: fakeTestbed()})
		if strings.Contains(out, internalErrorSummary) {
			t.Errorf("%s:\n%s", body, out)
		}
	}
}

// TestNullIsUnset: as in Terraform, null for an optional argument means "not set".
func TestNullIsUnset(t *testing.T) {
	c := mustLoad(t, `
reservation "r" {
  site     = "rennes"
  nodes    = 1
  walltime = null
}`, Input{})
	if got := c.Steps[0].StaticInstances[0].Spec.(*ReservationSpec).Walltime; got != time.Hour {
		t.Errorf("walltime = %v, want the default 1h", got)
	}
}

// TestCountZeroIsStillChecked: a step with no instance is type-checked anyway.
func TestCountZeroIsStillChecked(t *testing.T) {
	out := loadErr(t, `
reservation "r" {
  count = 0
  site  = "rennes"
  nodes = "many"
}`, Input{})
	if !strings.Contains(out, "nodes is a number of nodes") {
		t.Errorf("got:\n%s", out)
	}
}
