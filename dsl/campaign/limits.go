package campaign

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Bounds on hostile input. A campaign file comes from users through the REST
// API, so Load must answer every input with diagnostics in bounded time and
// memory, never with a crash.
const (
	// MaxSourceBytes bounds a campaign or var file. The HCL lexer keeps about
	// a hundred bytes per token, so this also bounds the parser's memory
	// (a file of one-byte tokens costs about 100 MiB to parse).
	MaxSourceBytes = 1 << 20
	// MaxNesting bounds how deeply brackets, blocks, templates and operator
	// chains may nest. The HCL parser and evaluator recurse once per level,
	// and a Go stack overflow cannot be recovered.
	MaxNesting = 64
	// MaxBlocks bounds the number of blocks in one body (the top level of a
	// campaign, or the files blocks of a transfer).
	MaxBlocks = 10000
	// MaxInstances bounds the expansion of one step's count or for_each.
	MaxInstances = 10000
	// maxCheckedInstances bounds how many expanded instances Load type-checks
	// one by one with their own count.index or each.key; beyond it, a step is
	// checked once with an unknown index or key.
	maxCheckedInstances = 10000
	// maxShapedInstances bounds the elements of the placeholder lists and maps
	// that stand for the outputs of expanded steps during validation.
	maxShapedInstances = 100000
)

// prescan checks size and nesting before the real parse, which recurses.
func prescan(src []byte, filename string) hcl.Diagnostics {
	diags, _ := prescanBlocks(src, filename, false)
	return diags
}

// prescanBlocks is prescan that also returns, when blocks is set and the
// file is ASCII, where its top-level items start (see scanBlocks).
func prescanBlocks(src []byte, filename string, blocks bool) (hcl.Diagnostics, []int) {
	if len(src) > MaxSourceBytes {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "File too large",
			Detail: fmt.Sprintf("%s is %d bytes, more than the %d a campaign file may have. Split the campaign, or generate repeated steps with count or for_each.",
				filename, len(src), MaxSourceBytes),
			Subject: &hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.InitialPos},
		}}, nil
	}
	var depth, at int
	var starts []int
	if isASCII(src) {
		depth, at, starts = scanBlocks(src, MaxNesting, blocks)
	} else {
		depth, at = tokenNesting(src, MaxNesting)
	}
	if depth <= MaxNesting {
		return nil, starts
	}
	rng := hcl.Range{Filename: filename, Start: posAt(src, at), End: posAt(src, at+1)}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Nesting too deep",
		Detail: fmt.Sprintf("Expressions and blocks may nest at most %d levels deep (brackets, blocks, templates and chained operators each count as one). Move parts of this expression into locals.",
			MaxNesting),
		Subject: &rng,
	}}, nil
}

func isASCII(src []byte) bool {
	for _, c := range src {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// posAt converts a byte offset to a position (columns count bytes: the
// fast path only runs on ASCII).
func posAt(src []byte, ofs int) hcl.Pos {
	ofs = min(max(ofs, 0), len(src))
	p := hcl.Pos{Line: 1, Column: 1, Byte: ofs}
	for _, c := range src[:ofs] {
		if c == '\n' {
			p.Line++
			p.Column = 1
		} else {
			p.Column++
		}
	}
	return p
}

// nesting measures parse depth from a token stream: each open bracket,
// block, quote, heredoc or template sequence is a level, and so is each
// operator chained at the same level (a + b + c parses as a tree as deep as
// its operators), an index after a value (a[b][c]) and an if or for
// template directive. Commas, and newlines where they end an item, end a chain.
type nesting struct {
	stack []nestLevel
	ops   int // sum of stack[*].ops
	prev  hclsyntax.TokenType
	max   int
}

type nestLevel struct {
	open hclsyntax.TokenType
	ops  int
}

func newNesting() *nesting {
	return &nesting{stack: []nestLevel{{open: hclsyntax.TokenNil}}}
}

// token accounts for one token and returns the depth after it. directive is
// the identifier after a TokenTemplateControl ("if", "endfor", …); endsLine
// says that a comment token swallowed the newline that ends its line.
func (n *nesting) token(ty hclsyntax.TokenType, directive string, endsLine bool) int {
	top := &n.stack[len(n.stack)-1]
	switch ty {
	case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen,
		hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl,
		hclsyntax.TokenOQuote, hclsyntax.TokenOHeredoc:
		if ty == hclsyntax.TokenOBrack && endsValue(n.prev) {
			top.ops++ // an index a[b][c]… nests one expression in the next
			n.ops++
		}
		if ty == hclsyntax.TokenTemplateControl {
			switch directive {
			case "if", "for":
				top.ops++
				n.ops++
			case "endif", "endfor":
				if top.ops > 0 {
					top.ops--
					n.ops--
				}
			}
		}
		n.stack = append(n.stack, nestLevel{open: ty})
	case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen,
		hclsyntax.TokenTemplateSeqEnd, hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc:
		if len(n.stack) > 1 {
			n.ops -= top.ops
			n.stack = n.stack[:len(n.stack)-1]
		}
	case hclsyntax.TokenComma:
		n.ops -= top.ops
		top.ops = 0
	case hclsyntax.TokenNewline, hclsyntax.TokenComment:
		if (ty == hclsyntax.TokenNewline || endsLine) && (top.open == hclsyntax.TokenNil || top.open == hclsyntax.TokenOBrace) {
			n.ops -= top.ops
			top.ops = 0
		}
	case hclsyntax.TokenQuestion, hclsyntax.TokenBang, hclsyntax.TokenMinus, hclsyntax.TokenPlus,
		hclsyntax.TokenStar, hclsyntax.TokenSlash, hclsyntax.TokenPercent, hclsyntax.TokenAnd,
		hclsyntax.TokenOr, hclsyntax.TokenEqualOp, hclsyntax.TokenNotEqual, hclsyntax.TokenLessThan,
		hclsyntax.TokenLessThanEq, hclsyntax.TokenGreaterThan, hclsyntax.TokenGreaterThanEq:
		top.ops++
		n.ops++
	}
	n.prev = ty
	d := len(n.stack) - 1 + n.ops
	n.max = max(n.max, d)
	return d
}

// endsValue reports whether a token can end an expression, so that a "["
// after it starts an index rather than a tuple.
func endsValue(t hclsyntax.TokenType) bool {
	switch t {
	case hclsyntax.TokenCBrack, hclsyntax.TokenCParen, hclsyntax.TokenCBrace, hclsyntax.TokenIdent,
		hclsyntax.TokenCQuote, hclsyntax.TokenNumberLit, hclsyntax.TokenCHeredoc:
		return true
	}
	return false
}

// tokenNesting measures nesting with HCL's own lexer. It is exact but costs
// as much memory as the parse; prescan uses it for non-ASCII files only. It
// returns the greatest depth (stopping once past limit) and where it was reached.
func tokenNesting(src []byte, limit int) (depth, at int) {
	toks, _ := hclsyntax.LexConfig(src, "", hcl.InitialPos)
	n := newNesting()
	for i, tok := range toks {
		directive := ""
		if tok.Type == hclsyntax.TokenTemplateControl && i+1 < len(toks) && toks[i+1].Type == hclsyntax.TokenIdent {
			directive = string(toks[i+1].Bytes)
		}
		endsLine := tok.Type == hclsyntax.TokenComment && len(tok.Bytes) > 0 && tok.Bytes[len(tok.Bytes)-1] == '\n'
		if d := n.token(tok.Type, directive, endsLine); d > limit {
			return d, tok.Range.Start.Byte
		}
	}
	return n.max, 0
}
