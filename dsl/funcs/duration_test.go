package funcs

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestDuration(t *testing.T) {
	runCases(t, DurationFunc, []callCase{
		{name: "hours", args: []cty.Value{cty.StringVal("2h")}, want: num(7200)},
		{name: "oar walltime", args: []cty.Value{cty.StringVal("01:30:00")}, want: num(5400)},
		{name: "seconds", args: []cty.Value{cty.StringVal("3600")}, want: num(3600)},
		{name: "fraction", args: []cty.Value{cty.StringVal("1500ms")}, want: cty.NumberFloatVal(1.5)},
		{name: "garbage", args: []cty.Value{cty.StringVal("two hours")}, wantErr: `invalid duration "two hours"`},
		{name: "negative", args: []cty.Value{cty.StringVal("-5m")}, wantErr: "invalid duration"},
	})
}
