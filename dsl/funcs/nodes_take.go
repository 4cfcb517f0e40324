package funcs

import (
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// NodesTakeFunc is nodes_take(nodes, n): the first n nodes of a list. Asking
// for more nodes than the list holds is an error rather than a silent
// shortfall, since a benchmark on fewer nodes than planned is a wrong result.
var NodesTakeFunc = function.New(&function.Spec{
	Description: `Returns the first n nodes of a node list; fails if the list has fewer than n nodes.`,
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
		n, err := wholeArg(1, args[1], "the number of nodes", 0, MaxCollection)
		if err != nil {
			return cty.NilVal, err
		}
		if n > len(nodes) {
			return cty.NilVal, function.NewArgErrorf(1, "cannot take %s from a list of %s; reserve more nodes or take fewer", plural(n, "node"), plural(len(nodes), "node"))
		}
		return stringList(nodes[:n]), nil
	},
})
