package campaign

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// errorf builds an error diagnostic. Context may be nil.
func errorf(subject hcl.Range, context *hcl.Range, summary, detailFormat string, args ...any) *hcl.Diagnostic {
	s := subject
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(detailFormat, args...),
		Subject:  &s,
		Context:  context,
	}
}

func rangePtr(r hcl.Range) *hcl.Range { return &r }

// at renders where a range starts, "file.hcl:12", for "declared at …" details.
func at(r hcl.Range) string { return fmt.Sprintf("%s:%d", r.Filename, r.Start.Line) }

// article is "a" or "an" for the word that follows.
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}

// suggest returns the candidate closest to name, if it is close enough to be
// a plausible typo, else "". Among the closest, the first in sort order wins.
//
// A name is compared with every candidate (every step of the campaign, for
// a reference to an undeclared step), so each comparison gives up as soon as
// the candidate is sure to be farther than the limit or than the best so far:
// a file whose every step refers to a renamed one costs a comparison per
// step and reference, not a full edit distance each.
func suggest(name string, candidates []string) string {
	// A suggestion is at most limit edits away, and fewer than len(name).
	limit := max(2, len(name)/3)
	limit = min(limit, len(name)-1)
	best, bestDist := "", -1
	for _, c := range candidates {
		bound := limit
		if bestDist >= 0 {
			bound = min(bound, bestDist)
		}
		d, ok := levenshteinWithin(name, c, bound)
		if !ok {
			continue
		}
		if bestDist < 0 || d < bestDist || (d == bestDist && c < best) {
			best, bestDist = c, d
		}
	}
	return best
}

// didYouMean is " Did you mean X?" or "".
func didYouMean(name string, candidates []string) string {
	if s := suggest(name, candidates); s != "" {
		return fmt.Sprintf(" Did you mean %s?", s)
	}
	return ""
}

// levenshteinWithin returns the edit distance between a and b (in runes) when
// it is at most bound; ok is false when it is larger. Names longer than 64
// bytes are no typos: they are at distance 0 from themselves, far from the rest.
func levenshteinWithin(a, b string, bound int) (d int, ok bool) {
	if bound < 0 {
		return 0, false
	}
	if len(a) > 64 || len(b) > 64 {
		return 0, a == b
	}
	if isASCIIString(a) && isASCIIString(b) {
		return editDistanceWithin([]byte(a), []byte(b), bound)
	}
	return editDistanceWithin([]rune(a), []rune(b), bound)
}

// editDistanceWithin is levenshteinWithin on at most 64 bytes or runes.
func editDistanceWithin[T byte | rune](a, b []T, bound int) (int, bool) {
	// A common prefix or suffix changes no distance.
	for len(a) > 0 && len(b) > 0 && a[0] == b[0] {
		a, b = a[1:], b[1:]
	}
	for len(a) > 0 && len(b) > 0 && a[len(a)-1] == b[len(b)-1] {
		a, b = a[:len(a)-1], b[:len(b)-1]
	}
	if diff := len(a) - len(b); diff > bound || -diff > bound {
		return 0, false // at least that many insertions or deletions
	}
	var rows [2][65]int
	prev, cur := rows[0][:len(b)+1], rows[1][:len(b)+1]
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		least := i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			least = min(least, cur[j])
		}
		if least > bound {
			return 0, false // every later row is at least as far
		}
		prev, cur = cur, prev
	}
	d := prev[len(b)]
	return d, d <= bound
}

func isASCIIString(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// quotedList renders names as `"a", "b" and "c"`.
func quotedList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return englishList(q)
}

func englishList(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// sortDiagnostics orders diagnostics by file and position, so that output
// is stable (hcl reports unsupported arguments in map order) and reads top
// to bottom. Diagnostics without a subject go last.
func sortDiagnostics(diags hcl.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a != nil && b == nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		}
		return a.Start.Byte < b.Start.Byte
	})
}

// dedupe drops diagnostics identical in severity, summary, detail and subject,
// as the checks of several instances of one step would repeat them.
func dedupe(diags hcl.Diagnostics) hcl.Diagnostics {
	type key struct {
		sev             hcl.DiagnosticSeverity
		summary, detail string
		subject         hcl.Range
	}
	seen := map[key]bool{}
	out := diags[:0:0]
	for _, d := range diags {
		k := key{sev: d.Severity, summary: d.Summary, detail: d.Detail}
		if d.Subject != nil {
			k.subject = *d.Subject
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, d)
	}
	return out
}
