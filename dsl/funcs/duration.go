package funcs

import (
	"github.com/gridflow/gridflow/dsl/units"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// DurationFunc is duration(s): the number of seconds in a duration written
// "2h", "90m", "01:30:00" (hours:minutes:seconds, as OAR writes walltimes) or
// a bare number of seconds. duration("2h") is 7200.
var DurationFunc = function.New(&function.Spec{
	Description: `Returns the number of seconds in a duration such as "2h", "90m30s", "01:30:00" or "3600".`,
	Params: []function.Parameter{
		{Name: "duration", Type: cty.String},
	},
	Type:         function.StaticReturnType(cty.Number),
	RefineResult: refineNotNull,
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		d, err := units.ParseDuration(args[0].AsString())
		if err != nil {
			return cty.UnknownVal(cty.Number), function.NewArgError(0, err)
		}
		secs := d.Seconds()
		if d%1e9 == 0 {
			return cty.NumberIntVal(int64(d / 1e9)), nil
		}
		return cty.NumberFloatVal(secs), nil
	},
})

func refineNotNull(b *cty.RefinementBuilder) *cty.RefinementBuilder {
	return b.NotNull()
}
