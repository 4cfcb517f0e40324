package funcs

import (
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// IndentFunc is go-cty's indent with at most 1000 spaces of indentation, so
// that indent(1e9, s) cannot allocate gigabytes.
var IndentFunc = function.New(&function.Spec{
	Description: stdlib.IndentFunc.Description(),
	Params:      stdlib.IndentFunc.Params(),
	Type:        function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if _, err := wholeArg(0, args[0], "the number of spaces", 0, maxFormatWidth); err != nil {
			return cty.NilVal, err
		}
		return stdlib.IndentFunc.Call(args)
	},
})
