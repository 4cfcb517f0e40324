package funcs

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestNodesSplit(t *testing.T) {
	runCases(t, NodesSplitFunc, []callCase{
		{name: "uneven", args: []cty.Value{strs("a", "b", "c", "d", "e"), num(2)}, want: groups(strs("a", "b", "c"), strs("d", "e"))},
		{name: "even", args: []cty.Value{strs("a", "b", "c", "d"), num(2)}, want: groups(strs("a", "b"), strs("c", "d"))},
		{name: "one part", args: []cty.Value{strs("a", "b"), num(1)}, want: groups(strs("a", "b"))},
		{name: "one per node", args: []cty.Value{strs("a", "b", "c"), num(3)}, want: groups(strs("a"), strs("b"), strs("c"))},
		{name: "more parts than nodes", args: []cty.Value{strs("a", "b"), num(3)}, wantErr: "cannot split a list of 2 nodes into 3 parts"},
		{name: "zero parts", args: []cty.Value{strs("a"), num(0)}, wantErr: "at least 1"},
		{name: "huge", args: []cty.Value{strs("a"), num(1e12)}, wantErr: "at most 10000"},
	})
}
