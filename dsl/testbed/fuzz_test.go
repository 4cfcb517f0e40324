package testbed

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gridflow/gridflow/campaigns"
)

// FuzzParse checks that no input makes Parse panic, that every diagnostic
// has a subject, and that a parse without errors yields a consistent
// testbed, with unique node uids.
//
//	go test -fuzz=FuzzParse -fuzztime=60s ./dsl/testbed/
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"testdata/valid", "testdata/invalid"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.hcl"))
		for _, path := range files {
			src, err := os.ReadFile(path)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(src)
		}
	}
	builtin, _ := campaigns.BuiltinTestbed()
	f.Add(builtin)

	f.Fuzz(func(t *testing.T, src []byte) {
		p := NewParser()
		tb, diags := p.Parse(src, "fuzz.hcl")
		for _, d := range diags {
			if d == nil || d.Subject == nil {
				t.Fatalf("diagnostic without subject: %+v", d)
			}
		}
		_ = FormatDiagnostics(p.Files(), diags)
		if diags.HasErrors() {
			if tb != nil {
				t.Fatal("testbed returned with errors")
			}
			return
		}
		checkInvariants(t, tb)
	})
}
