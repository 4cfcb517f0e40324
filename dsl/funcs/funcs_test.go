package funcs

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// The campaign language promises pure functions only: validating a campaign
// twice, or replaying a workflow, must give the same values.
func TestFunctionsArePure(t *testing.T) {
	fs := Functions()
	for _, impure := range []string{"timestamp", "uuid", "file", "fileexists", "templatefile", "bcrypt", "env"} {
		if _, ok := fs[impure]; ok {
			t.Errorf("%s is impure and must not be offered", impure)
		}
	}
	for _, want := range []string{"upper", "lower", "format", "join", "split", "length", "concat", "range", "min", "max",
		"merge", "keys", "values", "contains", "flatten", "distinct", "element", "lookup", "coalesce", "jsonencode",
		"jsondecode", "regex", "replace", "substr", "tostring", "tonumber", "tolist", "toset", "tomap",
		"duration", "size", "nodes_take", "nodes_skip", "nodes_split", "nodes_chunk", "nodes_sort", "nodes_by_cluster"} {
		if _, ok := fs[want]; !ok {
			t.Errorf("%s is missing", want)
		}
	}
	if len(Names()) != len(fs) {
		t.Errorf("Names() has %d names, Functions() %d", len(Names()), len(fs))
	}
}

// Unknown arguments (a reservation's nodes while the campaign is validated)
// give unknown results of the right type, never errors.
func TestUnknownArguments(t *testing.T) {
	unknownNodes := cty.UnknownVal(cty.List(cty.String))
	for name, args := range map[string][]cty.Value{
		"nodes_take":       {unknownNodes, num(2)},
		"nodes_skip":       {unknownNodes, num(1)},
		"nodes_split":      {unknownNodes, num(2)},
		"nodes_chunk":      {unknownNodes, num(2)},
		"nodes_sort":       {unknownNodes},
		"nodes_by_cluster": {unknownNodes},
		"duration":         {cty.UnknownVal(cty.String)},
		"size":             {cty.UnknownVal(cty.String)},
	} {
		f := Functions()[name]
		got, err := f.Call(args)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got.IsKnown() {
			t.Errorf("%s: got known %#v, want unknown", name, got)
		}
	}
}
