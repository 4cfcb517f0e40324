package funcs

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestNodesByCluster(t *testing.T) {
	runCases(t, NodesByClusterFunc, []callCase{
		{name: "two clusters", args: []cty.Value{strs("paravance-3.rennes.grid5000.fr", "parasilo-1.rennes.grid5000.fr", "paravance-1.rennes.grid5000.fr")},
			want: cty.MapVal(map[string]cty.Value{
				"paravance": strs("paravance-3.rennes.grid5000.fr", "paravance-1.rennes.grid5000.fr"),
				"parasilo":  strs("parasilo-1.rennes.grid5000.fr"),
			})},
		{name: "empty", args: []cty.Value{strs()}, want: cty.MapValEmpty(cty.List(cty.String))},
	})
}

func TestClusterOf(t *testing.T) {
	for in, want := range map[string]string{
		"paravance-12.rennes.grid5000.fr": "paravance",
		"grue-1":                          "grue",
		"sirius":                          "sirius",
		"my-host.example.org":             "my-host",
		"node-":                           "node-",
		"-1":                              "-1",
		"":                                "",
	} {
		if got := ClusterOf(in); got != want {
			t.Errorf("ClusterOf(%q) = %q, want %q", in, got, want)
		}
	}
}
