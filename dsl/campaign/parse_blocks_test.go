package campaign

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// sameAsHCL checks that parseConfig gives exactly what hclsyntax.ParseConfig
// gives: body, diagnostics, text, and the block around every offset. It
// reports whether the file was cut into pieces.
func sameAsHCL(t *testing.T, name string, src []byte) bool {
	t.Helper()
	diags, starts := prescanBlocks(src, name, true)
	if diags.HasErrors() {
		return false
	}
	got, gotDiags := parseConfig(src, name, starts)
	want, wantDiags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	if !reflect.DeepEqual(gotDiags, wantDiags) {
		t.Fatalf("%s: diagnostics differ:\n got %v\nwant %v", name, gotDiags, wantDiags)
	}
	if !reflect.DeepEqual(got.Body, want.Body) {
		t.Fatalf("%s: bodies differ:\n got %#v\nwant %#v", name, got.Body, want.Body)
	}
	if string(got.Bytes) != string(want.Bytes) {
		t.Fatalf("%s: bytes differ", name)
	}
	type nav interface {
		ContextString(offset int) string
		ContextDefRange(offset int) hcl.Range
	}
	gn, wn := got.Nav.(nav), want.Nav.(nav)
	for ofs := 0; ofs <= len(src); ofs++ {
		if g, w := gn.ContextString(ofs), wn.ContextString(ofs); g != w {
			t.Fatalf("%s: context at %d is %q, want %q", name, ofs, g, w)
		}
		if g, w := gn.ContextDefRange(ofs), wn.ContextDefRange(ofs); g != w {
			t.Fatalf("%s: context range at %d is %v, want %v", name, ofs, g, w)
		}
	}
	return len(starts) > 0
}

func TestParseConfigSameAsHCL(t *testing.T) {
	files, _ := filepath.Glob("testdata/*/*.hcl")
	files = append(files, exampleFiles(t)...)
	split := 0
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if sameAsHCL(t, f, src) {
			split++
		}
	}
	if split < len(files)/2 {
		t.Errorf("only %d of %d files were cut into pieces", split, len(files))
	}
	gen := generatedCampaign(200)
	if !sameAsHCL(t, "generated.hcl", gen) {
		t.Errorf("the generated campaign was not cut into pieces")
	}
	gen = generatedCampaign(60)
	half := bytes.Index(gen[len(gen)/2:], []byte("\nrun ")) + len(gen)/2 + 1
	for _, insert := range []string{"x = 1\n", "run \"z\" {\n  x = \n}\n", "run \"z\" {\n", "}\n", "/*\n", "run \"z\" { x = \"${\n}\n"} {
		src := append(append(append([]byte(nil), gen[:half]...), insert...), gen[half:]...)
		sameAsHCL(t, "generated.hcl", src)
		sameAsHCL(t, "generated.hcl", append(append([]byte(nil), gen...), insert...))
	}
	for _, src := range []string{
		"",
		"\n\n",
		"# only a comment\n",
		"/* a */\nrun \"a\" {\n}\nrun \"b\" {}\n",
		"# lead\n\n// lead\nrun \"a\" {\n  x = 1\n}\n\n# between\nrun \"b\" {\n  y = \"${x}\" # trailing\n} # after\nrun \"c\" { z = 1 }",
		"run \"a\" {\r\n  x = <<EOT\r\nrun \"x\" {\r\nEOT\r\n}\r\nrun \"b\" {\r\n}\r\n",
		"run \"a\" {\n  x = <<-EOT\n    ${a}\n    run \"b\" {\n    EOT\n}\nrun \"b\" {\n}\n",
		"run \"a\" {\n  x = 1 /*\n}\nrun \"b\" {\n*/\n}\nrun \"c\" {}\n",
		"run \"a\" {\n  x = [\n1,\n2]\n}\nrun \"b\" {\n  y = {\na = 1\n}\n}\n",
		"a = 1\nrun \"b\" {\n}\na = 2\n",
		"run \"a\" {\n}\nrun \"a\" {\n}\n",
		"run \"a\" {\n}\nrun \"b\" {\n",
		"run \"a\" {\n  x = \"unterminated\n}\nrun \"b\" {\n}\n",
		"run \"a\" {\n}\nrun \"b\"\n{\n}\n",
		"run \"a\" {\n}\nrun \"b\" { x = 1 }   \n\n\n",
		"locals {\n}\nvariable \"v\" {\n  default = 1\n}\noutput \"o\" {\n  value = var.v\n}",
		"run \"a\" {\n}\n\xef\xbb\xbfrun \"b\" {\n}\n",
		"run \"a\" {\n}\nrun \"b\" {\n  x = \n}\nrun \"c\" {\n}\n",
		"run \"a\" {\n}\nrun \"b\" {\n}\nx = 1\nx = 2\nrun \"c\" {\n  y = [\n}\n",
		"run \"a\" {\n}\nrun \"b\" {\n}\nrun \"c\" {\n  y = <<EOT\nz\n",
		"run \"a\" {\n}\nrun \"b\" {\n}\nrun \"c\" {\n  y = \"${\n}\nrun \"d\" {}\n",
	} {
		sameAsHCL(t, "case.hcl", []byte(src))
	}
}

// FuzzParseConfig: parsing block by block never changes what HCL makes of a file.
//
//	go test -fuzz=FuzzParseConfig -fuzztime=60s ./dsl/campaign/
func FuzzParseConfig(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/*.hcl")
	examples, _ := filepath.Glob(examplesGlob)
	for _, p := range append(seeds, examples...) {
		if src, err := os.ReadFile(p); err == nil {
			f.Add(src)
		}
	}
	f.Add([]byte("run \"a\" {\n  x = 1 /*\n}\nrun \"b\" {\n*/\n}\n"))
	f.Add([]byte("run \"a\" {\n  x = <<EOT\nrun \"x\" {\nEOT\n}\nrun \"b\" {\n}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > 8192 {
			return
		}
		sameAsHCL(t, "fuzz.hcl", src)
	})
}

// FuzzOneLine: the shortcut of oneLine returns what the long way does.
func FuzzOneLine(f *testing.F) {
	for _, s := range []string{"", "a", " a", "a ", "a  b", "a b", "a\tb", "reservation.exp.nodes[0]", "é b", "a\u00a0b", "x\u0085"} {
		f.Add(s, 80)
		f.Add(s, 2)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < 1 || max > 200 {
			return
		}
		want := strings.Join(strings.Fields(s), " ")
		if r := []rune(want); len(r) > max {
			want = string(r[:max-1]) + "…"
		}
		if got := oneLine(s, max); got != want {
			t.Fatalf("oneLine(%q, %d) = %q, want %q", s, max, got, want)
		}
	})
}
