package campaign

import (
	"github.com/zclconf/go-cty/cty"
)

// fakeNode is a node of the fake testbed, with the properties the built-in
// testbed filters on.
type fakeNode struct {
	site, cluster string
	props         map[string]cty.Value
}

type fakeInventory struct{ nodes []fakeNode }

// fakeTestbed is shaped like a small Grid'5000: the sites, clusters and
// GPU counts that the examples and fixtures use.
func fakeTestbed() *fakeInventory {
	inv := &fakeInventory{}
	add := func(site, cluster string, n, cores, gpus int) {
		for i := 0; i < n; i++ {
			inv.nodes = append(inv.nodes, fakeNode{site: site, cluster: cluster, props: map[string]cty.Value{
				"cores":     cty.NumberIntVal(int64(cores)),
				"gpu_count": cty.NumberIntVal(int64(gpus)),
				"memory":    cty.NumberIntVal(128 << 30),
			}})
		}
	}
	add("rennes", "paravance", 72, 16, 0)
	add("rennes", "parasilo", 28, 16, 0)
	add("lyon", "nova", 23, 16, 0)
	add("lyon", "sirius", 1, 128, 8)
	add("nancy", "gros", 124, 18, 0)
	add("nancy", "grue", 5, 32, 4)
	return inv
}

func (f *fakeInventory) HasSite(site string) bool {
	for _, n := range f.nodes {
		if n.site == site {
			return true
		}
	}
	return false
}

func (f *fakeInventory) HasCluster(site, cluster string) bool {
	for _, n := range f.nodes {
		if n.site == site && n.cluster == cluster {
			return true
		}
	}
	return false
}

// CountMatching follows the Inventory contract: strings and bools equal,
// numbers at least.
func (f *fakeInventory) CountMatching(site, cluster string, props map[string]cty.Value) int {
	count := 0
nodes:
	for _, n := range f.nodes {
		if n.site != site || (cluster != "" && n.cluster != cluster) {
			continue
		}
		for k, want := range props {
			have, ok := n.props[k]
			if !ok {
				continue nodes
			}
			if want.Type() == cty.Number {
				if have.Type() != cty.Number || have.AsBigFloat().Cmp(want.AsBigFloat()) < 0 {
					continue nodes
				}
				continue
			}
			if !have.RawEquals(want) {
				continue nodes
			}
		}
		count++
	}
	return count
}
