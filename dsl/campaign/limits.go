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
	// a hundred bytes per token, so this also bounds the parser's memory.
	MaxSourceBytes = 2 << 20
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

// prescan checks size and nesting before the real parse, with the HCL lexer,
// which is a state machine and does not recurse.
func prescan(src []byte, filename string) hcl.Diagnostics {
	if len(src) > MaxSourceBytes {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "File too large",
			Detail: fmt.Sprintf("%s is %d bytes, more than the %d a campaign file may have. Split the campaign, or generate repeated steps with count or for_each.",
				filename, len(src), MaxSourceBytes),
			Subject: &hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.InitialPos},
		}}
	}
	toks, _ := hclsyntax.LexConfig(src, filename, hcl.InitialPos)
	type level struct {
		open hclsyntax.TokenType
		ops  int // operators chained at this level: each adds one to the parse depth
	}
	stack := []level{{open: hclsyntax.TokenNil}}
	ops := 0 // sum of stack[*].ops
	var prev hclsyntax.TokenType
	for i, tok := range toks {
		top := &stack[len(stack)-1]
		switch tok.Type {
		case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen,
			hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl,
			hclsyntax.TokenOQuote, hclsyntax.TokenOHeredoc:
			if tok.Type == hclsyntax.TokenOBrack && endsValue(prev) {
				top.ops++ // an index a[b][c]… nests one expression in the next
				ops++
			}
			if tok.Type == hclsyntax.TokenTemplateControl && i+1 < len(toks) && toks[i+1].Type == hclsyntax.TokenIdent {
				switch string(toks[i+1].Bytes) {
				case "if", "for":
					top.ops++
					ops++
				case "endif", "endfor":
					if top.ops > 0 {
						top.ops--
						ops--
					}
				}
			}
			stack = append(stack, level{open: tok.Type})
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen,
			hclsyntax.TokenTemplateSeqEnd, hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc:
			if len(stack) > 1 {
				ops -= top.ops
				stack = stack[:len(stack)-1]
			}
		case hclsyntax.TokenComma:
			ops -= top.ops
			top.ops = 0
		case hclsyntax.TokenNewline:
			if top.open == hclsyntax.TokenNil || top.open == hclsyntax.TokenOBrace {
				ops -= top.ops
				top.ops = 0
			}
		case hclsyntax.TokenQuestion, hclsyntax.TokenBang, hclsyntax.TokenMinus, hclsyntax.TokenPlus,
			hclsyntax.TokenStar, hclsyntax.TokenSlash, hclsyntax.TokenPercent, hclsyntax.TokenAnd,
			hclsyntax.TokenOr, hclsyntax.TokenEqualOp, hclsyntax.TokenNotEqual, hclsyntax.TokenLessThan,
			hclsyntax.TokenLessThanEq, hclsyntax.TokenGreaterThan, hclsyntax.TokenGreaterThanEq:
			top.ops++
			ops++
		}
		prev = tok.Type
		if len(stack)-1+ops > MaxNesting {
			rng := tok.Range
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Nesting too deep",
				Detail: fmt.Sprintf("Expressions and blocks may nest at most %d levels deep (brackets, blocks, templates and chained operators each count as one). Move parts of this expression into locals.",
					MaxNesting),
				Subject: &rng,
			}}
		}
	}
	return nil
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
