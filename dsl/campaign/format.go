package campaign

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// Format rewrites HCL source in canonical layout, for `gridflow fmt`. Source
// with syntax errors comes back with only its whitespace normalised; source
// beyond the limits of Load (size, nesting) comes back unchanged, since
// hclwrite takes quadratic time on deeply nested input.
func Format(src []byte) []byte {
	if prescan(src, "").HasErrors() {
		return src
	}
	return hclwrite.Format(src)
}

// FormatDiagnostics renders diagnostics for a terminal, each as
//
//	file.hcl:12:11: error: Summary
//	   12 |   nodes = reservation.exq.nodes
//	      |           ^^^^^^^^^^^^^^^
//	  Detail, saying how to fix it.
//
// files comes from Parser.Files; without it the source lines are left out.
func FormatDiagnostics(files map[string]*hcl.File, diags hcl.Diagnostics) string {
	var b strings.Builder
	for i, d := range diags {
		if i > 0 {
			b.WriteString("\n")
		}
		sev := "error"
		if d.Severity == hcl.DiagWarning {
			sev = "warning"
		}
		if d.Subject != nil {
			fmt.Fprintf(&b, "%s:%d:%d: %s: %s\n", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, sev, d.Summary)
			if f := files[d.Subject.Filename]; f != nil {
				writeSnippet(&b, f.Bytes, *d.Subject)
			}
		} else {
			fmt.Fprintf(&b, "%s: %s\n", sev, d.Summary)
		}
		if d.Detail != "" {
			for _, line := range strings.Split(d.Detail, "\n") {
				if line == "" {
					b.WriteString("\n")
					continue
				}
				b.WriteString("  " + line + "\n")
			}
		}
	}
	return b.String()
}

// writeSnippet prints the subject's first line with a caret underline.
func writeSnippet(b *strings.Builder, src []byte, r hcl.Range) {
	if r.Start.Byte < 0 || r.Start.Byte > len(src) || r.End.Byte < r.Start.Byte {
		return
	}
	lineStart := r.Start.Byte
	for lineStart > 0 && src[lineStart-1] != '\n' {
		lineStart--
	}
	lineEnd := r.Start.Byte
	for lineEnd < len(src) && src[lineEnd] != '\n' {
		lineEnd++
	}
	line := strings.TrimRight(string(src[lineStart:lineEnd]), "\r")
	if !utf8.ValidString(line) {
		line = strings.ToValidUTF8(line, "?")
	}
	line = strings.ReplaceAll(line, "\t", " ")
	const maxLine = 200
	before := utf8.RuneCount(src[lineStart:r.Start.Byte])
	width := utf8.RuneCount(src[r.Start.Byte:min(r.End.Byte, lineEnd, len(src))])
	if width < 1 {
		width = 1
	}
	if utf8.RuneCountInString(line) > maxLine {
		line = string([]rune(line)[:maxLine]) + "…"
	}
	if before > maxLine {
		before, width = maxLine, 1
	}
	if before+width > maxLine+1 {
		width = maxLine + 1 - before
	}
	num := fmt.Sprint(r.Start.Line)
	pad := strings.Repeat(" ", len(num))
	fmt.Fprintf(b, "  %s | %s\n", num, line)
	fmt.Fprintf(b, "  %s | %s%s\n", pad, strings.Repeat(" ", before), strings.Repeat("^", width))
}
