package testbed

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Limits against hostile input. The HCL parser recurses once per nesting level
// and keeps every token in memory, and node runs expand to one struct per node,
// so each is bounded before any work that grows with it.
const (
	// MaxSourceSize is the largest testbed file accepted, in bytes. The HCL
	// lexer holds about 100 bytes per token, so this bounds the memory of a
	// parse to about 100 MiB; a real testbed of thousands of nodes needs a
	// few tens of kilobytes.
	MaxSourceSize = 1 << 20
	// MaxNesting bounds how deep blocks, brackets, braces, parentheses and
	// templates nest.
	MaxNesting = 64
	// MaxOperators bounds the operators of one expression: chains of unary
	// and conditional operators recurse like nesting does, and binary chains
	// are evaluated recursively.
	MaxOperators = 256
	// MaxNodesPerBlock bounds the count of one nodes block.
	MaxNodesPerBlock = 100000
	// MaxNodes bounds the nodes of a whole testbed.
	MaxNodes = 200000
)

// Parser parses testbed files and keeps them so that diagnostics can be
// rendered with their source lines. A Parser is not safe for concurrent use.
type Parser struct {
	p *hclparse.Parser
}

// NewParser returns a Parser with no files.
func NewParser() *Parser {
	return &Parser{p: hclparse.NewParser()}
}

// Files returns the files parsed so far, by filename, for
// hcl.NewDiagnosticTextWriter or FormatDiagnostics. The map must not be
// modified.
func (p *Parser) Files() map[string]*hcl.File {
	return p.p.Files()
}

// ParseFile reads and parses the testbed file at path.
func (p *Parser) ParseFile(path string) (*Testbed, hcl.Diagnostics) {
	src, diags := readSource(path)
	if diags.HasErrors() {
		return nil, diags
	}
	return p.Parse(src, path)
}

// Parse parses src as the testbed file named filename (used in diagnostics).
// When the diagnostics have errors the Testbed is nil; warnings may come with
// a Testbed.
func (p *Parser) Parse(src []byte, filename string) (*Testbed, hcl.Diagnostics) {
	// Phase 1: size, nesting and syntax. hclparse.Parser caches by filename,
	// which would hand back stale content when a caller parses new bytes under
	// a known name (an API re-validating an edited file), so the file is parsed
	// here and recorded with AddFile.
	if len(src) > MaxSourceSize {
		// Record the start of the file so the diagnostic can show it.
		p.p.AddFile(filename, &hcl.File{Body: hcl.EmptyBody(), Bytes: firstLine(src)})
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Testbed file too large",
			Detail:   fmt.Sprintf("This file has %d bytes; a testbed file may have at most %d. Describe runs of identical nodes with a nodes block (count and name pattern) instead of one node block each.", len(src), MaxSourceSize),
			Subject:  &hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.InitialPos},
		}}
	}
	if diags := checkNesting(src, filename); diags.HasErrors() {
		p.p.AddFile(filename, &hcl.File{Body: hcl.EmptyBody(), Bytes: src})
		return nil, diags
	}
	file, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if file == nil { // not expected from hclsyntax, but never hand a nil file on
		file = &hcl.File{Body: hcl.EmptyBody(), Bytes: src}
	}
	p.p.AddFile(filename, file)
	if diags.HasErrors() {
		return nil, diags
	}
	return decodeFile(file, diags)
}

// firstLine returns the first line of src, at most 200 bytes of it.
func firstLine(src []byte) []byte {
	if i := bytes.IndexByte(src, '\n'); i >= 0 {
		src = src[:i]
	}
	if len(src) > 200 {
		src = src[:200]
	}
	return src
}

// Parse parses src with a new Parser. Use a Parser instead when the
// diagnostics are to be rendered with source snippets.
func Parse(src []byte, filename string) (*Testbed, hcl.Diagnostics) {
	return NewParser().Parse(src, filename)
}

func readSource(path string) ([]byte, hcl.Diagnostics) {
	subject := &hcl.Range{Filename: path, Start: hcl.InitialPos, End: hcl.InitialPos}
	f, err := os.Open(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read testbed file",
			Detail:   fmt.Sprintf("%s. Check the path and the file's permissions.", err),
			Subject:  subject,
		}}
	}
	defer f.Close()
	// Read one byte past the limit so Parse reports the size without this
	// function holding an arbitrarily large file in memory.
	src, err := io.ReadAll(io.LimitReader(f, MaxSourceSize+1))
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read testbed file",
			Detail:   fmt.Sprintf("%s. Check that %s is a regular file.", err, path),
			Subject:  subject,
		}}
	}
	return src, nil
}

// checkNesting refuses sources whose expressions nest or chain operators
// deeper than the limits, before the recursive HCL parser sees them: a few
// hundred kilobytes of "[" overflow the goroutine stack, which is fatal and
// cannot be recovered.
func checkNesting(src []byte, filename string) hcl.Diagnostics {
	tokens, _ := hclsyntax.LexConfig(src, filename, hcl.InitialPos)
	// open holds the unclosed openers; inside ( [ ${ and %{ the parser
	// ignores newlines, so an expression, and its operator chain, goes on.
	var open []hclsyntax.TokenType
	continued := 0 // how many of open make newlines insignificant
	ops := 0
	for i := range tokens {
		tok := &tokens[i]
		switch tok.Type {
		case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen,
			hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl,
			hclsyntax.TokenOQuote, hclsyntax.TokenOHeredoc:
			if len(open) == MaxNesting {
				return hcl.Diagnostics{{
					Severity: hcl.DiagError,
					Summary:  "Too deeply nested",
					Detail:   fmt.Sprintf("Blocks, brackets, parentheses and templates nest more than %d levels deep here. A testbed file needs only a few levels: check for unclosed brackets.", MaxNesting),
					Subject:  tok.Range.Ptr(),
				}}
			}
			open = append(open, tok.Type)
			if ignoresNewlines(tok.Type) {
				continued++
			}
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen,
			hclsyntax.TokenTemplateSeqEnd, hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc:
			// Mismatched closers are the parser's to report; popping the
			// innermost opener keeps the count an upper bound.
			if n := len(open); n > 0 {
				if ignoresNewlines(open[n-1]) {
					continued--
				}
				open = open[:n-1]
			}
		case hclsyntax.TokenNewline:
			if continued == 0 {
				ops = 0
			}
		case hclsyntax.TokenMinus, hclsyntax.TokenBang, hclsyntax.TokenQuestion,
			hclsyntax.TokenPlus, hclsyntax.TokenStar, hclsyntax.TokenSlash,
			hclsyntax.TokenPercent, hclsyntax.TokenAnd, hclsyntax.TokenOr,
			hclsyntax.TokenEqualOp, hclsyntax.TokenNotEqual,
			hclsyntax.TokenLessThan, hclsyntax.TokenLessThanEq,
			hclsyntax.TokenGreaterThan, hclsyntax.TokenGreaterThanEq:
			ops++
			if ops > MaxOperators {
				return hcl.Diagnostics{{
					Severity: hcl.DiagError,
					Summary:  "Expression too complex",
					Detail:   fmt.Sprintf("This expression has more than %d operators. Testbed values are literals: write the value itself.", MaxOperators),
					Subject:  tok.Range.Ptr(),
				}}
			}
		}
	}
	return nil
}

func ignoresNewlines(t hclsyntax.TokenType) bool {
	switch t {
	case hclsyntax.TokenOBrack, hclsyntax.TokenOParen, hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
		return true
	}
	return false
}

// MaxRenderedDiagnostics bounds how many diagnostics FormatDiagnostics
// renders; the rest are counted in a last line, as compilers do.
const MaxRenderedDiagnostics = 50

// FormatDiagnostics renders diagnostics as text without color: for each, a
// "file:line:column: Severity: Summary" line, the source lines of its subject
// and its detail. files is usually Parser.Files(); without it the snippets
// read "(source code not available)".
func FormatDiagnostics(files map[string]*hcl.File, diags hcl.Diagnostics) string {
	var out, one bytes.Buffer
	rendered := 0
	for _, d := range diags {
		if d == nil {
			continue
		}
		if rendered == MaxRenderedDiagnostics {
			fmt.Fprintf(&out, "... and %d more diagnostics.\n", countNonNil(diags)-rendered)
			break
		}
		rendered++
		one.Reset()
		w := hcl.NewDiagnosticTextWriter(&one, snippetFiles(files, d), 0, false)
		_ = w.WriteDiagnostic(d) // writes to a bytes.Buffer cannot fail
		if d.Subject != nil {
			fmt.Fprintf(&out, "%s:%d:%d: ", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		}
		out.Write(one.Bytes())
	}
	return out.String()
}

func countNonNil(diags hcl.Diagnostics) int {
	n := 0
	for _, d := range diags {
		if d != nil {
			n++
		}
	}
	return n
}

// snippetFiles gives the text writer the subject's file cut after the last
// line of the snippet: the writer scans every line of the file it is given,
// which for many diagnostics on a large file would be quadratic.
func snippetFiles(files map[string]*hcl.File, d *hcl.Diagnostic) map[string]*hcl.File {
	if d.Subject == nil {
		return nil
	}
	f := files[d.Subject.Filename]
	if f == nil || f.Bytes == nil {
		return nil
	}
	end := d.Subject.End.Byte + 1 // the writer widens empty ranges by one
	if d.Context != nil && d.Context.Filename == d.Subject.Filename && d.Context.End.Byte > end {
		end = d.Context.End.Byte
	}
	src := f.Bytes
	if end < 0 || end > len(src) {
		end = len(src)
	}
	if i := bytes.IndexByte(src[end:], '\n'); i >= 0 {
		src = src[:end+i]
	}
	return map[string]*hcl.File{d.Subject.Filename: {Body: f.Body, Bytes: src, Nav: f.Nav}}
}
