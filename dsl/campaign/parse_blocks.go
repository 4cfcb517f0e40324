package campaign

import (
	"bytes"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// parseConfig parses a campaign file as hclsyntax.ParseConfig does, with the
// same result, but block by block when it can: starts are the offsets of the
// top-level items found by scanBlocks.
//
// Why: HCL's lexer turns the whole file into one slice of ~100-byte tokens
// before parsing, and a slice that large grows by a quarter at a time, so a
// file of a thousand blocks spends a third of its parse copying and clearing
// that slice, and in the garbage collector. Parsed one top-level block at a
// time, each slice stays small.
//
// Why it is the same: the pieces are cut at line starts, before an
// identifier, outside any bracket, block, quote, heredoc or template. If a
// piece parses with no diagnostic at all and holds only blocks, every quote,
// heredoc, template and bracket it opens it also closes, and it ends with a
// newline, so HCL's lexer is back in its initial state at the cut when it
// reads the whole file, and it produces the same tokens with the same
// positions (each piece is lexed from its own start position). The parser
// then reads the same blocks one after the other: the top level of a file
// carries no state from one block to the next, and only attributes there
// (not allowed in a campaign anyway) are checked against each other. From
// the first piece that does not parse cleanly — a syntax error, an attribute
// at the top level, a misplaced cut — the rest of the file is parsed in one
// piece, which is then what HCL would parse there, so the diagnostics are
// exactly HCL's own. TestParseConfigSameAsHCL and FuzzParseConfig compare
// with a whole parse.
func parseConfig(src []byte, filename string, starts []int) (*hcl.File, hcl.Diagnostics) {
	for k, to := range starts {
		if to <= 0 || to >= len(src) || src[to-1] != '\n' || (k > 0 && to <= starts[k-1]) {
			starts = nil // not cuts scanBlocks makes
			break
		}
	}
	if len(starts) == 0 {
		return hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	}
	var first *hcl.File
	var root, last *hclsyntax.Body
	var diags hcl.Diagnostics
	blocks := make(hclsyntax.Blocks, 0, len(starts)+1)
	pos := hcl.InitialPos
	from := 0
	for k := 0; k <= len(starts); k++ {
		to := len(src)
		if k < len(starts) {
			to = starts[k]
		}
		f, ds := hclsyntax.ParseConfig(src[from:to], filename, pos)
		body, ok := f.Body.(*hclsyntax.Body)
		if k < len(starts) && (len(ds) > 0 || !ok || len(body.Attributes) > 0) {
			if k == 0 {
				return hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
			}
			// The rest in one piece, from this clean cut.
			f, ds = hclsyntax.ParseConfig(src[from:], filename, pos)
			body, ok = f.Body.(*hclsyntax.Body)
			to, k = len(src), len(starts)
		}
		if !ok {
			return hclsyntax.ParseConfig(src, filename, hcl.InitialPos) // not from hclsyntax
		}
		if first == nil {
			first, root = f, body
		}
		last, diags = body, ds
		blocks = append(blocks, body.Blocks...)
		// The next piece starts a line.
		pos = hcl.Pos{Line: pos.Line + bytes.Count(src[from:to], []byte{'\n'}), Column: 1, Byte: to}
		from = to
	}
	// The file's body holds every block and the attributes of the last piece
	// (the others have none), and runs from where the first piece's starts to
	// where the last piece's ends. The first piece's navigation (the block
	// around an offset, for hcl.NewDiagnosticTextWriter) points at root,
	// which becomes that body.
	root.Attributes = last.Attributes
	root.Blocks = blocks
	root.SrcRange = hcl.RangeBetween(root.SrcRange, last.SrcRange)
	root.EndRange = last.EndRange
	return &hcl.File{Body: root, Bytes: src, Nav: first.Nav}, diags
}
