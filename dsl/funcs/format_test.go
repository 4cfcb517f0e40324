package funcs

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestFormat(t *testing.T) {
	runCases(t, FormatFunc, []callCase{
		{name: "plain", args: []cty.Value{cty.StringVal("%s-%03d"), cty.StringVal("node"), num(7)}, want: cty.StringVal("node-007")},
		{name: "percent", args: []cty.Value{cty.StringVal("100%%")}, want: cty.StringVal("100%")},
		{name: "wide", args: []cty.Value{cty.StringVal("%999999999d"), num(1)}, wantErr: "format width is larger than 1000"},
		{name: "precise", args: []cty.Value{cty.StringVal("%.99999999f"), num(1)}, wantErr: "format precision is larger than 1000"},
		{name: "indexed", args: []cty.Value{cty.StringVal("%[1]5000s"), cty.StringVal("x")}, wantErr: "format width"},
	})
	runCases(t, FormatListFunc, []callCase{
		{name: "list", args: []cty.Value{cty.StringVal("n%d"), cty.ListVal([]cty.Value{num(1), num(2)})}, want: strs("n1", "n2")},
		{name: "wide", args: []cty.Value{cty.StringVal("%-5000d"), cty.ListVal([]cty.Value{num(1)})}, wantErr: "format width"},
	})
}
