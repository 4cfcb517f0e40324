package funcs

import (
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// NodesChunkFunc is nodes_chunk(nodes, size): consecutive groups of `size`
// nodes, the last one possibly smaller. nodes_chunk(["a","b","c"], 2) is
// [["a","b"], ["c"]].
var NodesChunkFunc = function.New(&function.Spec{
	Description: `Cuts a node list into consecutive groups of the given size; the last group may be smaller.`,
	Params: []function.Parameter{
		{Name: "nodes", Type: nodeListParam},
		{Name: "size", Type: cty.Number},
	},
	Type:         function.StaticReturnType(cty.List(cty.List(cty.String))),
	RefineResult: refineNotNull,
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		nodes, err := nodeNames(0, args[0])
		if err != nil {
			return cty.NilVal, err
		}
		size, err := wholeArg(1, args[1], "the group size", 1, MaxCollection)
		if err != nil {
			return cty.NilVal, err
		}
		var groups [][]string
		for start := 0; start < len(nodes); start += size {
			groups = append(groups, nodes[start:min(start+size, len(nodes))])
		}
		return groupList(groups), nil
	},
})
