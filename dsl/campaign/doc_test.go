package campaign

import (
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// TestLanguageDocSnippets: every hcl example of the language doc is valid
// syntax, and the doc has one for every block and meta-argument.
func TestLanguageDocSnippets(t *testing.T) {
	doc, err := os.ReadFile("../../docs/campaign-language.md")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(string(doc), "```hcl\n")
	var all strings.Builder
	for i, p := range parts[1:] {
		snippet, _, ok := strings.Cut(p, "```")
		if !ok {
			t.Fatalf("snippet %d is not closed", i)
		}
		all.WriteString(snippet)
		if _, diags := hclsyntax.ParseConfig([]byte(snippet), "snippet.hcl", hcl.InitialPos); diags.HasErrors() {
			t.Errorf("snippet %d:\n%s\n%s", i, snippet, diags)
		}
	}
	for _, construct := range []string{"variable \"", "locals {", "reservation \"", "deployment \"", "transfer \"",
		"container \"", "run \"", "output \"", "depends_on", "count ", "for_each", "on_failure", "timeout", "validation {",
		"retry {", "timeouts {", "files {", "init {", "job \""} {
		if !strings.Contains(all.String(), construct) {
			t.Errorf("no example uses %q", construct)
		}
	}
}
