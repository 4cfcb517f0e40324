package funcs

import (
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// SetProductFunc is go-cty's setproduct refusing products of more than
// MaxCollection elements: three sets of 1024 would otherwise build a
// billion-element value.
var SetProductFunc = function.New(&function.Spec{
	Description: stdlib.SetProductFunc.Description(),
	VarParam:    stdlib.SetProductFunc.VarParam(),
	Type: func(args []cty.Value) (cty.Type, error) {
		return stdlib.SetProductFunc.ReturnTypeForValues(args)
	},
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		total := 1
		for i, a := range args {
			if !a.IsKnown() || a.IsNull() || !a.Type().IsCollectionType() && !a.Type().IsTupleType() {
				continue
			}
			total *= a.LengthInt()
			if total > MaxCollection {
				return cty.NilVal, function.NewArgErrorf(i, "the product would have more than %d elements", MaxCollection)
			}
			if total == 0 {
				break
			}
		}
		return stdlib.SetProductFunc.Call(args)
	},
})
