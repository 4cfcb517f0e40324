package funcs

import (
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// callCase is one call of a function: its arguments and either the wanted
// result or a substring of the wanted error.
type callCase struct {
	name    string
	args    []cty.Value
	want    cty.Value
	wantErr string
}

func runCases(t *testing.T, f function.Function, cases []callCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := f.Call(c.args)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error = %v, want one containing %q (result %#v)", err, c.wantErr, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !got.RawEquals(c.want) {
				t.Fatalf("got %#v, want %#v", got, c.want)
			}
		})
	}
}

func strs(ss ...string) cty.Value {
	if len(ss) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vals := make([]cty.Value, len(ss))
	for i, s := range ss {
		vals[i] = cty.StringVal(s)
	}
	return cty.ListVal(vals)
}

func groups(gs ...cty.Value) cty.Value {
	if len(gs) == 0 {
		return cty.ListValEmpty(cty.List(cty.String))
	}
	return cty.ListVal(gs)
}

func num(n int64) cty.Value { return cty.NumberIntVal(n) }
