package funcs

import (
	"fmt"
	"math/big"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// The node helpers take node lists as list(string): HCL converts a tuple of
// strings (["a", "b"]) and a set of strings for us.
var nodeListParam = cty.List(cty.String)

// nodeNames returns the host names of a known node list, rejecting nulls,
// which would otherwise surface as an empty host name at run time.
func nodeNames(argIdx int, v cty.Value) ([]string, error) {
	if v.IsNull() {
		return nil, function.NewArgErrorf(argIdx, "the node list is null; pass a list of host names such as reservation.exp.nodes")
	}
	out := make([]string, 0, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() {
			return nil, function.NewArgErrorf(argIdx, "element %d of the node list is null; every element must be a host name", len(out))
		}
		out = append(out, e.AsString())
	}
	return out, nil
}

// wholeArg reads a non-negative whole number argument no larger than limit.
func wholeArg(argIdx int, v cty.Value, what string, min, limit int) (int, error) {
	if v.IsNull() {
		return 0, function.NewArgErrorf(argIdx, "%s must not be null", what)
	}
	bf := v.AsBigFloat()
	if !bf.IsInt() {
		return 0, function.NewArgErrorf(argIdx, "%s must be a whole number, not %s", what, bf.Text('f', -1))
	}
	if bf.Cmp(big.NewFloat(float64(min))) < 0 {
		return 0, function.NewArgErrorf(argIdx, "%s must be at least %d, not %s", what, min, bf.Text('f', -1))
	}
	if bf.Cmp(big.NewFloat(float64(limit))) > 0 {
		return 0, function.NewArgErrorf(argIdx, "%s must be at most %d, not %s", what, limit, bf.Text('f', -1))
	}
	n, _ := bf.Int64()
	return int(n), nil
}

func stringList(names []string) cty.Value {
	if len(names) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vals := make([]cty.Value, len(names))
	for i, n := range names {
		vals[i] = cty.StringVal(n)
	}
	return cty.ListVal(vals)
}

func groupList(groups [][]string) cty.Value {
	if len(groups) == 0 {
		return cty.ListValEmpty(cty.List(cty.String))
	}
	vals := make([]cty.Value, len(groups))
	for i, g := range groups {
		vals[i] = stringList(g)
	}
	return cty.ListVal(vals)
}

func plural(n int, one string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %ss", n, one)
}
