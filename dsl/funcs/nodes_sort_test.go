package funcs

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestNodesSort(t *testing.T) {
	runCases(t, NodesSortFunc, []callCase{
		{name: "natural", args: []cty.Value{strs("paravance-10", "paravance-2", "parasilo-1", "paravance-1")},
			want: strs("parasilo-1", "paravance-1", "paravance-2", "paravance-10")},
		{name: "fqdn", args: []cty.Value{strs("gros-12.nancy.grid5000.fr", "gros-3.nancy.grid5000.fr")},
			want: strs("gros-3.nancy.grid5000.fr", "gros-12.nancy.grid5000.fr")},
		{name: "duplicates", args: []cty.Value{strs("b", "a", "b")}, want: strs("a", "b")},
		{name: "leading zeros", args: []cty.Value{strs("n-010", "n-10", "n-9")}, want: strs("n-9", "n-10", "n-010")},
		{name: "empty", args: []cty.Value{strs()}, want: strs()},
	})
}
