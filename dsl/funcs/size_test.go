package funcs

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestSize(t *testing.T) {
	runCases(t, SizeFunc, []callCase{
		{name: "binary", args: []cty.Value{cty.StringVal("128GiB")}, want: num(128 << 30)},
		{name: "decimal", args: []cty.Value{cty.StringVal("600GB")}, want: num(600e9)},
		{name: "bytes", args: []cty.Value{cty.StringVal("1024")}, want: num(1024)},
		{name: "garbage", args: []cty.Value{cty.StringVal("12XB")}, wantErr: `invalid size "12XB"`},
		{name: "empty", args: []cty.Value{cty.StringVal("")}, wantErr: "empty size"},
	})
}
