package funcs

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestNodesChunk(t *testing.T) {
	runCases(t, NodesChunkFunc, []callCase{
		{name: "remainder", args: []cty.Value{strs("a", "b", "c"), num(2)}, want: groups(strs("a", "b"), strs("c"))},
		{name: "exact", args: []cty.Value{strs("a", "b", "c", "d"), num(2)}, want: groups(strs("a", "b"), strs("c", "d"))},
		{name: "bigger than list", args: []cty.Value{strs("a"), num(5)}, want: groups(strs("a"))},
		{name: "empty", args: []cty.Value{strs(), num(2)}, want: groups()},
		{name: "zero size", args: []cty.Value{strs("a"), num(0)}, wantErr: "at least 1"},
	})
}
