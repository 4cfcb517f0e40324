package funcs

import (
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// NodesSplitFunc is nodes_split(nodes, parts): the list cut into `parts`
// contiguous groups whose sizes differ by at most one, the larger groups
// first. nodes_split(["a","b","c","d","e"], 2) is [["a","b","c"], ["d","e"]].
var NodesSplitFunc = function.New(&function.Spec{
	Description: `Splits a node list into the given number of contiguous groups of nearly equal size.`,
	Params: []function.Parameter{
		{Name: "nodes", Type: nodeListParam},
		{Name: "parts", Type: cty.Number},
	},
	Type:         function.StaticReturnType(cty.List(cty.List(cty.String))),
	RefineResult: refineNotNull,
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		nodes, err := nodeNames(0, args[0])
		if err != nil {
			return cty.NilVal, err
		}
		parts, err := wholeArg(1, args[1], "the number of parts", 1, MaxCollection)
		if err != nil {
			return cty.NilVal, err
		}
		if parts > len(nodes) {
			return cty.NilVal, function.NewArgErrorf(1, "cannot split a list of %s into %d parts: every part needs at least one node", plural(len(nodes), "node"), parts)
		}
		return groupList(split(nodes, parts)), nil
	},
})

func split(nodes []string, parts int) [][]string {
	groups := make([][]string, 0, parts)
	size, extra := len(nodes)/parts, len(nodes)%parts
	for i, start := 0, 0; i < parts; i++ {
		n := size
		if i < extra {
			n++
		}
		groups = append(groups, nodes[start:start+n])
		start += n
	}
	return groups
}
