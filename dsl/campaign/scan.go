package campaign

import (
	"bytes"

	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// scanNesting measures the same depth as tokenNesting on ASCII source
// without building tokens: it follows the modes of HCL's lexer (code,
// quoted template, heredoc, with template sequences nesting code inside
// them) closely enough to classify every bracket, quote and operator as the
// lexer would. FuzzScanNesting checks it against tokenNesting.
func scanNesting(src []byte, limit int) (depth, at int) {
	depth, at, _ = scanBlocks(src, limit, false)
	return depth, at
}

// scanBlocks is scanNesting that also returns, when blocks is set, where the
// top-level items start: the offset of each identifier that begins a line
// outside any bracket, block, quote, heredoc or template. They are only
// hints for parseConfig, which checks what it makes of them.
func scanBlocks(src []byte, limit int, blocks bool) (depth, at int, starts []int) {
	s := &scanner{src: src, n: newNesting(), blocks: blocks}
	d, at := s.run(limit)
	if d > limit {
		return d, at, nil
	}
	return s.n.max, 0, s.starts
}

type scanMode int

const (
	modeCode scanMode = iota
	modeQuote
	modeHeredoc
)

type scanFrame struct {
	mode        scanMode
	marker      []byte // heredoc end marker
	startOfLine bool   // heredoc: the current line has had no template sequence yet
}

type scanner struct {
	src       []byte
	n         *nesting
	modes     []scanFrame
	braces    int
	retBraces []int
	blocks    bool  // record starts
	starts    []int // offsets of the top-level items, if blocks
}

func (s *scanner) run(limit int) (int, int) {
	s.modes = []scanFrame{{mode: modeCode}}
	i := 0
	for i < len(s.src) {
		start := i
		if s.blocks && i > 0 && s.src[i-1] == '\n' && isIdentStart(s.src[i]) &&
			len(s.modes) == 1 && s.braces == 0 && len(s.n.stack) == 1 {
			s.starts = append(s.starts, i)
		}
		var ty hclsyntax.TokenType
		directive, endsLine := "", false
		switch s.modes[len(s.modes)-1].mode {
		case modeCode:
			ty, i, directive, endsLine = s.code(i)
		case modeQuote:
			ty, i, directive = s.quote(i)
		default:
			ty, i, directive = s.heredoc(i)
		}
		if ty == tokSkip {
			continue
		}
		if d := s.n.token(ty, directive, endsLine); d > limit {
			return d, start
		}
		if ty == hclsyntax.TokenCHeredoc {
			// The lexer emits the newline after a closing marker as its own token.
			if d := s.n.token(hclsyntax.TokenNewline, "", false); d > limit {
				return d, start
			}
		}
	}
	return 0, 0
}

// tokSkip is white space: no token.
const tokSkip hclsyntax.TokenType = -1

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || (c|0x20) >= 'a' && (c|0x20) <= 'z' }
func isIdentCont(c byte) bool  { return isIdentStart(c) || isDigit(c) || c == '-' }

func (s *scanner) at(i int) byte {
	if i < len(s.src) {
		return s.src[i]
	}
	return 0
}

// code scans one token in code mode.
func (s *scanner) code(i int) (hclsyntax.TokenType, int, string, bool) {
	c := s.src[i]
	switch {
	case c == ' ' || c == '\t':
		return tokSkip, i + 1, "", false
	case c == '\n':
		return hclsyntax.TokenNewline, i + 1, "", false
	case c == '\r' && s.at(i+1) == '\n':
		return hclsyntax.TokenNewline, i + 2, "", false
	case c == '#' || (c == '/' && s.at(i+1) == '/'):
		j := bytes.IndexByte(s.src[i:], '\n')
		if j < 0 {
			return hclsyntax.TokenComment, len(s.src), "", false
		}
		return hclsyntax.TokenComment, i + j + 1, "", true
	case c == '/' && s.at(i+1) == '*':
		j := bytes.Index(s.src[i+2:], []byte("*/"))
		if j < 0 {
			// Unterminated: to the lexer this is a "/" and a "*", and
			// what follows is code again.
			return hclsyntax.TokenSlash, i + 1, "", false
		}
		return hclsyntax.TokenComment, i + 2 + j + 2, "", false
	case isDigit(c):
		return hclsyntax.TokenNumberLit, s.number(i), "", false
	case isIdentStart(c):
		j := i + 1
		for j < len(s.src) && isIdentCont(s.src[j]) {
			j++
		}
		return hclsyntax.TokenIdent, j, "", false
	case c == '"':
		s.modes = append(s.modes, scanFrame{mode: modeQuote})
		return hclsyntax.TokenOQuote, i + 1, "", false
	case c == '<' && s.at(i+1) == '<':
		if marker, end, ok := s.heredocStart(i); ok {
			s.modes = append(s.modes, scanFrame{mode: modeHeredoc, marker: marker, startOfLine: true})
			return hclsyntax.TokenOHeredoc, end, "", false
		}
		return hclsyntax.TokenLessThan, i + 1, "", false
	case c == '{':
		s.braces++
		return hclsyntax.TokenOBrace, i + 1, "", false
	case c == '}' || (c == '~' && s.at(i+1) == '}'):
		end := i + 1
		if c == '~' {
			end = i + 2
		}
		if n := len(s.retBraces); n > 0 && s.retBraces[n-1] == s.braces {
			s.braces--
			s.retBraces = s.retBraces[:n-1]
			s.modes = s.modes[:len(s.modes)-1]
			return hclsyntax.TokenTemplateSeqEnd, end, "", false
		}
		s.braces--
		if c == '~' {
			return hclsyntax.TokenTemplateSeqEnd, end, "", false
		}
		return hclsyntax.TokenCBrace, end, "", false
	}
	two := string(s.src[i:min(i+2, len(s.src))])
	switch two {
	case "==":
		return hclsyntax.TokenEqualOp, i + 2, "", false
	case "!=":
		return hclsyntax.TokenNotEqual, i + 2, "", false
	case ">=":
		return hclsyntax.TokenGreaterThanEq, i + 2, "", false
	case "<=":
		return hclsyntax.TokenLessThanEq, i + 2, "", false
	case "&&":
		return hclsyntax.TokenAnd, i + 2, "", false
	case "||":
		return hclsyntax.TokenOr, i + 2, "", false
	case "::", "=>":
		return hclsyntax.TokenDoubleColon, i + 2, "", false // neither nests
	}
	if two == ".." && s.at(i+2) == '.' {
		return hclsyntax.TokenEllipsis, i + 3, "", false
	}
	switch c {
	case '[', ']', '(', ')', ',', '*', '/', '%', '+', '-', '<', '>', '!', '?':
		return hclsyntax.TokenType(c), i + 1, "", false // HCL's self tokens are their own byte
	}
	return hclsyntax.TokenInvalid, i + 1, "", false
}

// number scans a NumberLit: a digit, then digits, dots and exponents, not
// ending with a dot ("1..2" is one token, "1." is a number and a dot).
func (s *scanner) number(i int) int {
	j, last := i+1, i+1
	for j < len(s.src) {
		c := s.src[j]
		switch {
		case isDigit(c):
			j++
			last = j
		case c == '.':
			j++
		case (c == 'e' || c == 'E') && isDigit(s.at(j+1)):
			j += 2
			last = j
		case (c == 'e' || c == 'E') && (s.at(j+1) == '+' || s.at(j+1) == '-') && isDigit(s.at(j+2)):
			j += 3
			last = j
		default:
			return last
		}
	}
	return last
}

// heredocStart matches <<MARKER or <<-MARKER followed by a newline.
func (s *scanner) heredocStart(i int) ([]byte, int, bool) {
	j := i + 2
	if s.at(j) == '-' {
		j++
	}
	if !isIdentStart(s.at(j)) {
		return nil, 0, false
	}
	k := j + 1
	for k < len(s.src) && isIdentCont(s.src[k]) {
		k++
	}
	marker := s.src[j:k]
	if s.at(k) == '\r' {
		k++
	}
	if s.at(k) != '\n' {
		return nil, 0, false
	}
	return marker, k + 1, true
}

// sequence handles "${" and "%{" (with an optional "~") inside templates,
// and the "$${" and "%%{" escapes. It returns ok=false for a plain byte.
func (s *scanner) sequence(i int) (hclsyntax.TokenType, int, string, bool) {
	c := s.src[i]
	if (c == '$' || c == '%') && s.at(i+1) == c && s.at(i+2) == '{' {
		return hclsyntax.TokenQuotedLit, i + 3, "", true // escape: literal text
	}
	if (c != '$' && c != '%') || s.at(i+1) != '{' {
		return 0, 0, "", false
	}
	j := i + 2
	if s.at(j) == '~' {
		j++
	}
	s.braces++
	s.retBraces = append(s.retBraces, s.braces)
	if top := &s.modes[len(s.modes)-1]; top.mode == modeHeredoc {
		top.startOfLine = false
	}
	s.modes = append(s.modes, scanFrame{mode: modeCode})
	if c == '$' {
		return hclsyntax.TokenTemplateInterp, j, "", true
	}
	k := j
	for k < len(s.src) && (s.src[k] == ' ' || s.src[k] == '\t' || s.src[k] == '\n' || s.src[k] == '\r') {
		k++
	}
	e := k
	for e < len(s.src) && isIdentCont(s.src[e]) {
		e++
	}
	directive := ""
	if k < len(s.src) && isIdentStart(s.src[k]) {
		directive = string(s.src[k:e])
	}
	return hclsyntax.TokenTemplateControl, j, directive, true
}

// quote scans one token of a quoted template.
func (s *scanner) quote(i int) (hclsyntax.TokenType, int, string) {
	if ty, end, directive, ok := s.sequence(i); ok {
		return ty, end, directive
	}
	switch c := s.src[i]; {
	case c == '"':
		s.modes = s.modes[:len(s.modes)-1]
		return hclsyntax.TokenCQuote, i + 1, ""
	case c == '\\' && s.at(i+1) != '\n' && s.at(i+1) != '\r' && i+1 < len(s.src):
		return hclsyntax.TokenQuotedLit, i + 2, ""
	case c == '\n' || c == '\r':
		return hclsyntax.TokenQuotedNewline, i + 1, ""
	}
	return hclsyntax.TokenQuotedLit, i + 1, ""
}

// heredoc scans one token of a heredoc: a template sequence, or the rest of
// a line, which may be the closing marker.
func (s *scanner) heredoc(i int) (hclsyntax.TokenType, int, string) {
	if ty, end, directive, ok := s.sequence(i); ok {
		return ty, end, directive
	}
	top := &s.modes[len(s.modes)-1]
	j := i
	for j < len(s.src) && s.src[j] != '\n' {
		if (s.src[j] == '$' || s.src[j] == '%') && s.at(j+1) == '{' {
			break
		}
		if (s.src[j] == '$' || s.src[j] == '%') && s.at(j+1) == s.src[j] && s.at(j+2) == '{' {
			j += 3
			continue
		}
		j++
	}
	if j < len(s.src) && s.src[j] == '\n' {
		if top.startOfLine && bytes.Equal(bytes.TrimSpace(s.src[i:j]), top.marker) {
			s.modes = s.modes[:len(s.modes)-1]
			return hclsyntax.TokenCHeredoc, j + 1, ""
		}
		top.startOfLine = true
		return hclsyntax.TokenStringLit, j + 1, ""
	}
	if j == i {
		// A lone "$" or "%" before something other than "{".
		return hclsyntax.TokenStringLit, i + 1, ""
	}
	top.startOfLine = false
	return hclsyntax.TokenStringLit, j, ""
}
