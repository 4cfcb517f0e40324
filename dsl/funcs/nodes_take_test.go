package funcs

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestNodesTake(t *testing.T) {
	abc := strs("a", "b", "c")
	runCases(t, NodesTakeFunc, []callCase{
		{name: "two", args: []cty.Value{abc, num(2)}, want: strs("a", "b")},
		{name: "all", args: []cty.Value{abc, num(3)}, want: abc},
		{name: "none", args: []cty.Value{abc, num(0)}, want: strs()},
		{name: "too many", args: []cty.Value{abc, num(5)}, wantErr: "cannot take 5 nodes from a list of 3 nodes"},
		{name: "fraction", args: []cty.Value{abc, cty.NumberFloatVal(1.5)}, wantErr: "whole number"},
		{name: "negative", args: []cty.Value{abc, num(-1)}, wantErr: "at least 0"},
		{name: "null element", args: []cty.Value{cty.ListVal([]cty.Value{cty.StringVal("a"), cty.NullVal(cty.String)}), num(1)}, wantErr: "element 1 of the node list is null"},
	})
}
