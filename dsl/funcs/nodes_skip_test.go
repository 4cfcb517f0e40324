package funcs

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestNodesSkip(t *testing.T) {
	abc := strs("a", "b", "c")
	runCases(t, NodesSkipFunc, []callCase{
		{name: "one", args: []cty.Value{abc, num(1)}, want: strs("b", "c")},
		{name: "all", args: []cty.Value{abc, num(3)}, want: strs()},
		{name: "zero", args: []cty.Value{abc, num(0)}, want: abc},
		{name: "too many", args: []cty.Value{abc, num(4)}, wantErr: "cannot skip 4 nodes of a list of 3 nodes"},
	})
}
