package funcs

import (
	"github.com/gridflow/gridflow/dsl/units"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// SizeFunc is size(s): the number of bytes in a size written "128GiB",
// "600GB", "512MiB" or a bare number of bytes. size("1KiB") is 1024.
var SizeFunc = function.New(&function.Spec{
	Description: `Returns the number of bytes in a size such as "128GiB", "600GB" or "1024".`,
	Params: []function.Parameter{
		{Name: "size", Type: cty.String},
	},
	Type:         function.StaticReturnType(cty.Number),
	RefineResult: refineNotNull,
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		n, err := units.ParseSize(args[0].AsString())
		if err != nil {
			return cty.UnknownVal(cty.Number), function.NewArgError(0, err)
		}
		return cty.NumberIntVal(n), nil
	},
})
