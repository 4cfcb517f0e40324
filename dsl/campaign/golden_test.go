package campaign

import (
	"bufio"
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/errors")

// fixtureInput reads the directives at the top of a fixture:
//
//	# vars: name=value        (a -var; may repeat)
//	# env: NAME=value          (an environment variable; may repeat)
//	# varfile: other.hcl       (a var file beside the fixture; may repeat)
//	# inventory: fake          (load with the fake testbed)
func fixtureInput(t *testing.T, path string) Input {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	in := Input{Filename: filepath.ToSlash(path), Source: src, Vars: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(src))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "# ") {
			break
		}
		key, val, ok := strings.Cut(strings.TrimPrefix(line, "# "), ": ")
		if !ok {
			break
		}
		switch key {
		case "vars":
			k, v, _ := strings.Cut(val, "=")
			in.Vars[k] = v
		case "env":
			in.Env = append(in.Env, val)
		case "varfile":
			in.VarFiles = append(in.VarFiles, filepath.ToSlash(filepath.Join(filepath.Dir(path), val)))
		case "inventory":
			in.Inventory = fakeTestbed()
		}
	}
	return in
}

// TestErrorsGolden loads each broken campaign of testdata/errors and compares
// the rendered diagnostics with its .golden file. Run with -update to
// rewrite them, then read the diff: these are the messages users see.
func TestErrorsGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 10 {
		t.Fatalf("only %d broken fixtures", len(files))
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".hcl")
		t.Run(name, func(t *testing.T) {
			p := NewParser()
			c, diags := p.Load(fixtureInput(t, path))
			if !diags.HasErrors() {
				t.Fatalf("loaded without errors; a fixture in testdata/errors must be broken")
			}
			if c != nil {
				t.Errorf("Load returned a campaign along with errors")
			}
			for _, d := range diags {
				if d.Subject == nil {
					t.Errorf("diagnostic without a subject: %s", d.Summary)
				}
				if d.Detail == "" {
					t.Errorf("diagnostic without a detail: %s", d.Summary)
				}
				if strings.Contains(d.Summary, "\n") {
					t.Errorf("summary is not one line: %q", d.Summary)
				}
			}
			got := FormatDiagnostics(p.Files(), diags)
			golden := strings.TrimSuffix(path, ".hcl") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestErrorsGolden -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("diagnostics differ from %s (run with -update and review the diff)\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
		})
	}
}
