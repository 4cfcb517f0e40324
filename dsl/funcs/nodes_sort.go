package funcs

import (
	"sort"
	"strconv"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// NodesSortFunc is nodes_sort(nodes): the list in natural order, so that
// "paravance-2" comes before "paravance-10" (plain sort() would not), which
// makes nodes_take and nodes_split pick the same nodes whatever order the
// reservation listed them in.
var NodesSortFunc = function.New(&function.Spec{
	Description: `Sorts a node list in natural order ("node-2" before "node-10") and removes duplicates.`,
	Params: []function.Parameter{
		{Name: "nodes", Type: nodeListParam},
	},
	Type:         function.StaticReturnType(cty.List(cty.String)),
	RefineResult: refineNotNull,
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		nodes, err := nodeNames(0, args[0])
		if err != nil {
			return cty.NilVal, err
		}
		sorted := append([]string(nil), nodes...)
		sort.SliceStable(sorted, func(i, j int) bool { return naturalLess(sorted[i], sorted[j]) })
		out := sorted[:0]
		for i, n := range sorted {
			if i == 0 || n != sorted[i-1] {
				out = append(out, n)
			}
		}
		return stringList(out), nil
	},
})

// naturalLess compares strings chunk by chunk, digit runs by numeric value.
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		ca, ra := chunk(a)
		cb, rb := chunk(b)
		if ca != cb {
			if isDigits(ca) && isDigits(cb) {
				na, ea := strconv.ParseUint(ca, 10, 64)
				nb, eb := strconv.ParseUint(cb, 10, 64)
				if ea == nil && eb == nil && na != nb {
					return na < nb
				}
				if len(ca) != len(cb) {
					return len(ca) < len(cb)
				}
			}
			return ca < cb
		}
		a, b = ra, rb
	}
	return len(a) < len(b)
}

// chunk splits off the leading run of digits or of non-digits.
func chunk(s string) (string, string) {
	digit := isDigit(s[0])
	i := 1
	for i < len(s) && isDigit(s[i]) == digit {
		i++
	}
	return s[:i], s[i:]
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isDigits(s string) bool { return s != "" && isDigit(s[0]) }
