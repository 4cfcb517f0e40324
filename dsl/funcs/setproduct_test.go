package funcs

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestSetProduct(t *testing.T) {
	big := make([]cty.Value, 200)
	for i := range big {
		big[i] = num(int64(i))
	}
	runCases(t, SetProductFunc, []callCase{
		{name: "small", args: []cty.Value{strs("a", "b"), strs("x")},
			want: cty.ListVal([]cty.Value{
				cty.TupleVal([]cty.Value{cty.StringVal("a"), cty.StringVal("x")}),
				cty.TupleVal([]cty.Value{cty.StringVal("b"), cty.StringVal("x")}),
			})},
		{name: "too big", args: []cty.Value{cty.ListVal(big), cty.ListVal(big)}, wantErr: "more than 10000 elements"},
	})
}
