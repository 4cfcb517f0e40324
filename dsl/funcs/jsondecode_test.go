package funcs

import (
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestJSONDecode(t *testing.T) {
	runCases(t, JSONDecodeFunc, []callCase{
		{name: "object", args: []cty.Value{cty.StringVal(`{"a": [1, "]["]}`)},
			want: cty.ObjectVal(map[string]cty.Value{"a": cty.TupleVal([]cty.Value{num(1), cty.StringVal("][")})})},
		{name: "deep", args: []cty.Value{cty.StringVal(strings.Repeat("[", 100000))}, wantErr: "nested more than 100 levels"},
		{name: "brackets in strings do not count", args: []cty.Value{cty.StringVal(`"` + strings.Repeat("[", 200) + `"`)},
			want: cty.StringVal(strings.Repeat("[", 200))},
	})
}
