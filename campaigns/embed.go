// Package campaigns embeds the example campaigns and testbeds that ship with
// Gridflow, so the binary can run them without the source tree.
package campaigns

import "embed"

// FS holds the testbeds directory as it is in the source tree.
//
//go:embed testbeds
var FS embed.FS

// builtinPath is the built-in testbed's path in FS; builtinName is the name
// diagnostics show, which is its path from the repository root.
const (
	builtinPath = "testbeds/builtin.hcl"
	builtinName = "campaigns/testbeds/builtin.hcl"
)

// BuiltinTestbed returns the source of the testbed `gridflow dev` runs on and
// the filename to parse it under (and that diagnostics will show).
func BuiltinTestbed() ([]byte, string) {
	src, err := FS.ReadFile(builtinPath)
	if err != nil {
		// The file is embedded at build time; a missing one is a build bug.
		panic("campaigns: built-in testbed not embedded: " + err.Error())
	}
	return src, builtinName
}
