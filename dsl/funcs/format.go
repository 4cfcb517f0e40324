package funcs

import (
	"fmt"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// maxFormatWidth bounds the width and precision of a format verb: go-cty pads
// to whatever width is asked, so format("%999999999d", 1) would allocate a
// gigabyte while a campaign is being validated.
const maxFormatWidth = 1000

// FormatFunc is go-cty's format with the width and precision of each verb
// bounded by 1000 characters.
var FormatFunc = boundFormat(stdlib.FormatFunc)

// FormatListFunc is go-cty's formatlist with the same bound as FormatFunc.
var FormatListFunc = boundFormat(stdlib.FormatListFunc)

func boundFormat(f function.Function) function.Function {
	return function.New(&function.Spec{
		Description: f.Description(),
		Params:      f.Params(),
		VarParam:    f.VarParam(),
		Type: func(args []cty.Value) (cty.Type, error) {
			return f.ReturnTypeForValues(args)
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if spec := args[0]; spec.IsKnown() && !spec.IsNull() && spec.Type() == cty.String {
				if err := checkFormatWidths(spec.AsString()); err != nil {
					return cty.NilVal, function.NewArgError(0, err)
				}
			}
			return f.Call(args)
		},
	})
}

// checkFormatWidths scans the verbs of a format string ("%-10.3f", "%[2]5s")
// and rejects widths or precisions above maxFormatWidth.
func checkFormatWidths(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		i++
		if i < len(s) && s[i] == '%' {
			continue
		}
		for i < len(s) && (s[i] == '-' || s[i] == '+' || s[i] == '#' || s[i] == ' ' || s[i] == '0') {
			i++
		}
		if i < len(s) && s[i] == '[' {
			for i < len(s) && s[i] != ']' {
				i++
			}
			i++
		}
		for _, what := range []string{"width", "precision"} {
			if what == "precision" {
				if i >= len(s) || s[i] != '.' {
					break
				}
				i++
			}
			n := 0
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				if n <= maxFormatWidth {
					n = n*10 + int(s[i]-'0')
				}
				i++
			}
			if n > maxFormatWidth {
				return fmt.Errorf("format %s is larger than %d", what, maxFormatWidth)
			}
		}
		i-- // the loop's i++ moves onto the verb letter
	}
	return nil
}
