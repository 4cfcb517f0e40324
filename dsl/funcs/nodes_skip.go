package funcs

import (
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// NodesSkipFunc is nodes_skip(nodes, n): the nodes after the first n, the
// complement of nodes_take(nodes, n) (e.g. one server node, the rest clients).
var NodesSkipFunc = function.New(&function.Spec{
	Description: `Returns the node list without its first n nodes; fails if the list has fewer than n nodes.`,
	Params: []function.Parameter{
		{Name: "nodes", Type: nodeListParam},
		{Name: "n", Type: cty.Number},
	},
	Type:         function.StaticReturnType(cty.List(cty.String)),
	RefineResult: refineNotNull,
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		nodes, err := nodeNames(0, args[0])
		if err != nil {
			return cty.NilVal, err
		}
		n, err := wholeArg(1, args[1], "the number of nodes to skip", 0, MaxCollection)
		if err != nil {
			return cty.NilVal, err
		}
		if n > len(nodes) {
			return cty.NilVal, function.NewArgErrorf(1, "cannot skip %s of a list of %s", plural(n, "node"), plural(len(nodes), "node"))
		}
		return stringList(nodes[n:]), nil
	},
})
