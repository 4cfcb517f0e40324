package campaign

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad: no input may crash Load or what callers do next with its result.
//
//	go test -fuzz=FuzzLoad -fuzztime=60s ./dsl/campaign/
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/*.hcl")
	examples, _ := filepath.Glob(examplesGlob)
	for _, p := range append(seeds, examples...) {
		if src, err := os.ReadFile(p); err == nil {
			f.Add(src, "3")
		}
	}
	f.Add([]byte(`variable "x" {}
reservation "r" {
  count = var.x
  site  = "rennes"
  nodes = 1
}`), `[1, 2]`)
	f.Fuzz(func(t *testing.T, src []byte, x string) {
		p := NewParser()
		c, diags := p.Load(Input{
			Filename:  "fuzz.hcl",
			Source:    src,
			Vars:      map[string]string{"x": x},
			Env:       []string{"GRIDFLOW_VAR_y=" + x},
			Inventory: fakeTestbed(),
		})
		for _, d := range diags {
			if d.Summary == internalErrorSummary {
				t.Fatalf("internal error on %q:\n%s", src, d.Detail)
			}
		}
		_ = FormatDiagnostics(p.Files(), diags)
		_ = Format(src)
		if c == nil {
			return
		}
		_ = c.Plan().String()
		ctx := c.EvalContext(nil)
		for _, st := range c.Steps {
			insts, diags := st.Expand(ctx)
			if diags.HasErrors() {
				continue
			}
			for i, inst := range insts {
				if i == 3 {
					break
				}
				_, _ = st.Decode(ctx, inst)
			}
		}
		for _, o := range c.Outputs {
			_, _ = o.Value(ctx)
		}
	})
}
