package campaign

import (
	"path/filepath"
	"testing"
)

// examplesGlob finds the campaigns users copy from; each must load cleanly.
const examplesGlob = "../../campaigns/examples/*.hcl"

func exampleFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(examplesGlob)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("found %d example campaigns under %s, want at least 3", len(files), examplesGlob)
	}
	return files
}

// TestExamples loads every example with no inventory and with a fake testbed
// shaped like the built-in one: not even a warning is acceptable in a file
// users copy from.
func TestExamples(t *testing.T) {
	for _, f := range exampleFiles(t) {
		for _, inv := range []struct {
			name string
			inv  Inventory
		}{{"no inventory", nil}, {"fake testbed", fakeTestbed()}} {
			t.Run(filepath.Base(f)+"/"+inv.name, func(t *testing.T) {
				p := NewParser()
				c, diags := p.Load(Input{Filename: f, Inventory: inv.inv})
				if len(diags) > 0 {
					t.Fatalf("diagnostics:\n%s", FormatDiagnostics(p.Files(), diags))
				}
				if len(c.Steps) == 0 {
					t.Fatal("no steps")
				}
				if testing.Verbose() && inv.inv != nil {
					t.Logf("\n%s", c.Plan())
				}
			})
		}
	}
}
