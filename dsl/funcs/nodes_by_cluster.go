package funcs

import (
	"sort"
	"strings"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// NodesByClusterFunc is nodes_by_cluster(nodes): the nodes grouped by cluster,
// the cluster being the host name's first label without its "-<number>"
// suffix, as Grid'5000 names hosts ("paravance-12.rennes.grid5000.fr" is in
// cluster "paravance"). Each group keeps the order of the input list.
var NodesByClusterFunc = function.New(&function.Spec{
	Description: `Groups a node list by cluster name ("paravance-3.rennes" is in "paravance").`,
	Params: []function.Parameter{
		{Name: "nodes", Type: nodeListParam},
	},
	Type:         function.StaticReturnType(cty.Map(cty.List(cty.String))),
	RefineResult: refineNotNull,
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		nodes, err := nodeNames(0, args[0])
		if err != nil {
			return cty.NilVal, err
		}
		groups := map[string][]string{}
		for _, n := range nodes {
			c := ClusterOf(n)
			groups[c] = append(groups[c], n)
		}
		if len(groups) == 0 {
			return cty.MapValEmpty(cty.List(cty.String)), nil
		}
		names := make([]string, 0, len(groups))
		for c := range groups {
			names = append(names, c)
		}
		sort.Strings(names)
		out := make(map[string]cty.Value, len(groups))
		for _, c := range names {
			out[c] = stringList(groups[c])
		}
		return cty.MapVal(out), nil
	},
})

// ClusterOf returns the cluster part of a Grid'5000-style host name:
// "paravance-12.rennes.grid5000.fr" → "paravance". A name without a
// "-<number>" suffix in its first label is its own cluster.
func ClusterOf(host string) string {
	label, _, _ := strings.Cut(host, ".")
	i := strings.LastIndexByte(label, '-')
	if i <= 0 || i == len(label)-1 {
		return label
	}
	for _, c := range label[i+1:] {
		if c < '0' || c > '9' {
			return label
		}
	}
	return label[:i]
}
