package testbed

import (
	"testing"

	"github.com/gridflow/gridflow/campaigns"
)

// BenchmarkParseBuiltin measures what `gridflow dev` pays at start to read
// its testbed.
func BenchmarkParseBuiltin(b *testing.B) {
	src, name := campaigns.BuiltinTestbed()
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		tb, diags := Parse(src, name)
		if diags.HasErrors() || len(tb.Nodes()) < 300 {
			b.Fatal(diags)
		}
	}
}
