package funcs

import (
	"fmt"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// maxJSONDepth bounds the nesting of a document given to jsondecode: go-cty
// decodes recursively, and a string of a million "[" would take the stack
// (and the process) with it.
const maxJSONDepth = 100

// JSONDecodeFunc is go-cty's jsondecode refusing documents nested deeper than 100 levels.
var JSONDecodeFunc = function.New(&function.Spec{
	Description: stdlib.JSONDecodeFunc.Description(),
	Params:      stdlib.JSONDecodeFunc.Params(),
	Type: func(args []cty.Value) (cty.Type, error) {
		if a := args[0]; a.IsKnown() && !a.IsNull() {
			if err := checkJSONDepth(a.AsString()); err != nil {
				return cty.NilType, function.NewArgError(0, err)
			}
		}
		return stdlib.JSONDecodeFunc.ReturnTypeForValues(args)
	},
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return stdlib.JSONDecodeFunc.Call(args)
	},
})

func checkJSONDepth(s string) error {
	depth, inString := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			depth++
			if depth > maxJSONDepth {
				return fmt.Errorf("the JSON document is nested more than %d levels deep", maxJSONDepth)
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return nil
}
