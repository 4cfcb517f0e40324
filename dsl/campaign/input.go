package campaign

import "github.com/zclconf/go-cty/cty"

// Input is what Load reads: the campaign source and the values of its variables.
type Input struct {
	// Filename names the campaign in diagnostics; the file is read from disk
	// only when Source is nil.
	Filename string
	Source   []byte
	// Vars are -var name=value pairs. A value for a variable of type string,
	// number or bool is taken as a string and converted (so -var nodes=4
	// works); for other types it is an HCL expression (-var 'sites=["lyon"]').
	Vars map[string]string
	// VarFiles are HCL (or .json) files of name = value lines, applied in order.
	VarFiles []string
	// Env is the process environment ("KEY=value"); GRIDFLOW_VAR_<name> sets
	// variable <name> like -var would.
	Env []string
	// Inventory, if set, lets Load reject requests that the testbed can never
	// satisfy. Nil skips those checks.
	Inventory Inventory
}

// EnvPrefix is the prefix of environment variables that set campaign variables.
const EnvPrefix = "GRIDFLOW_VAR_"

// Inventory answers Load's questions about the testbed. The engine implements
// it over the testbed description; tests use a fake.
type Inventory interface {
	// HasSite reports whether the site exists.
	HasSite(site string) bool
	// HasCluster reports whether the site has the cluster.
	HasCluster(site, cluster string) bool
	// CountMatching returns how many nodes of the site match, in the given
	// cluster ("" for any cluster of the site), every property of props:
	// strings and bools must be equal to the node's property, numbers are
	// minimums (gpu_count = 2 matches a node with 4 GPUs).
	CountMatching(site, cluster string, props map[string]cty.Value) int
}
