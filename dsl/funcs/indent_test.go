package funcs

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestIndent(t *testing.T) {
	runCases(t, IndentFunc, []callCase{
		{name: "two", args: []cty.Value{num(2), cty.StringVal("a\nb")}, want: cty.StringVal("a\n  b")},
		{name: "huge", args: []cty.Value{num(1e9), cty.StringVal("a\nb")}, wantErr: "at most 1000"},
	})
}
