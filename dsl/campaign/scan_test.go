package campaign

import (
	"os"
	"path/filepath"
	"testing"
)

// TestScanNestingMatchesLexer: on real campaigns the fast scanner measures
// exactly what HCL's lexer-based measure does.
func TestScanNestingMatchesLexer(t *testing.T) {
	files, _ := filepath.Glob("testdata/*/*.hcl")
	files = append(files, exampleFiles(t)...)
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !isASCII(src) {
			continue
		}
		fast, _ := scanNesting(src, 1<<30)
		exact, _ := tokenNesting(src, 1<<30)
		if fast != exact {
			t.Errorf("%s: scanner says depth %d, lexer %d", f, fast, exact)
		}
	}
}

func TestScanNestingCases(t *testing.T) {
	for _, src := range []string{
		"a = 1 + 2 # c\nb = 3 + 4 // c\nc = 5 /* x\n */ + 6\n",
		"a = \"x${[1, 2][0] + 1}y%{ if true }z%{ endif }\\\" ${\"n${1}\"}\"\n",
		"a = <<EOT\nline ${x[0] + 1}\n  $${not} %%{not}\n  EOT\nb = [[1]]\n",
		"a = <<-EOT\r\nx\r\nEOT\r\nb = 1\n",
		"a = 1e-5 - 2.5e+3 - 1..2 - 1.\n",
		"a = x[y][z].w[0]\n",
		"a = /* unterminated [[[\n",
		"a = \"${ { b = \"}\" } }\"\n",
		"a = \"${ x ~}\" \n",
		"a = <<EOT\n${ <<EOF\ninner ${1}\nEOF\n}\nEOT\n",
		"a = {\n b = 1 + 1\n c = 2 + 2\n}\n",
		"a = \"%{for x in y}${x}%{endfor}%{if a}%{else}%{endif}\"\n",
		"a = !b && c || d == e != f < g <= h > i >= j ? k : l\n",
		"a = <<EOT",
		"a = \"unterminated ${",
		"a = \"new\nline [[[\" ]]]\n",
	} {
		fast, _ := scanNesting([]byte(src), 1<<30)
		exact, _ := tokenNesting([]byte(src), 1<<30)
		if fast != exact {
			t.Errorf("%q: scanner says depth %d, lexer %d", src, fast, exact)
		}
	}
}

// FuzzScanNesting checks the fast scanner against HCL's lexer. It must
// never measure less (the parser would then recurse deeper than allowed);
// on input the lexer understands it should measure the same.
func FuzzScanNesting(f *testing.F) {
	for _, s := range []string{"a = [[1]]", "a = \"${x}\"", "a = <<EOT\n${x}\nEOT\n", "a = 1 + 2 # c\n", "a = x[y] ? 1 : 2"} {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob("testdata/*/*.hcl")
	for _, p := range files {
		if src, err := os.ReadFile(p); err == nil {
			f.Add(src)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		if !isASCII(src) || len(src) > 4096 {
			return
		}
		fast, _ := scanNesting(src, 1<<30)
		exact, _ := tokenNesting(src, 1<<30)
		if fast < exact {
			t.Fatalf("scanner measured %d, lexer %d, on %q: the parser could recurse deeper than allowed", fast, exact, src)
		}
		if fast != exact {
			t.Fatalf("scanner measured %d, lexer %d, on %q: valid input could be refused", fast, exact, src)
		}
	})
}
