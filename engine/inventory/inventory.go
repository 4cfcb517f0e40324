// Package inventory answers the campaign language's questions about a testbed
// (does this site exist, how many nodes match these properties), so that a
// campaign asking for hardware the testbed can never provide is refused when
// it is loaded rather than when its reservation waits forever.
package inventory

import (
	"math/big"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/gridflow/gridflow/dsl/campaign"
	"github.com/gridflow/gridflow/dsl/testbed"
	"github.com/gridflow/gridflow/dsl/units"
)

// inventory indexes one testbed. The testbed is never modified after Parse,
// so the index stays right and the inventory is safe for concurrent use.
type inventory struct {
	sites map[string]*testbed.Site
}

// New returns the Inventory of a testbed, for campaign.Input. A nil testbed
// has no sites.
//
// Reservations filter nodes with these property names, those of the testbed
// language (numbers are minimums, strings must be equal):
//
//	cores                   number
//	memory, disk            bytes: a number, or a size string ("64GiB")
//	network, network_rate   bits per second: a number, or a rate string ("10Gbps")
//	gpu_count (or gpus)     number
//	cpu_model, gpu_model    string
//	cluster                 string
//
// A property the testbed does not know, or a value that cannot be compared
// with it, matches no node: the campaign gets a "no node matches" error that
// names the filter, rather than a silently ignored typo.
func New(tb *testbed.Testbed) campaign.Inventory {
	inv := &inventory{sites: map[string]*testbed.Site{}}
	if tb != nil {
		for _, s := range tb.Sites {
			inv.sites[s.UID] = s
		}
	}
	return inv
}

func (inv *inventory) HasSite(site string) bool { return inv.sites[site] != nil }

func (inv *inventory) HasCluster(site, cluster string) bool { return inv.cluster(site, cluster) != nil }

func (inv *inventory) cluster(site, cluster string) *testbed.Cluster {
	s := inv.sites[site]
	if s == nil {
		return nil
	}
	for _, c := range s.Clusters {
		if c.UID == cluster {
			return c
		}
	}
	return nil
}

// CountMatching counts the nodes of the site (and cluster, unless "") whose
// properties pass every filter of props.
func (inv *inventory) CountMatching(site, cluster string, props map[string]cty.Value) int {
	s := inv.sites[site]
	if s == nil {
		return 0
	}
	tests := make([]nodeTest, 0, len(props))
	for name, want := range props {
		t, ok := compile(name, want)
		if !ok {
			return 0
		}
		if t != nil {
			tests = append(tests, t)
		}
	}
	count := 0
	for _, c := range s.Clusters {
		if cluster != "" && c.UID != cluster {
			continue
		}
	nodes:
		for _, n := range c.Nodes {
			for _, t := range tests {
				if !t(n) {
					continue nodes
				}
			}
			count++
		}
	}
	return count
}

// nodeTest reports whether a node passes one property filter.
type nodeTest func(*testbed.Node) bool

// propKind says how a property's wanted value is read.
type propKind int

const (
	number propKind = iota // a plain number
	size                   // bytes, or a size string
	rate                   // bits per second, or a rate string
	text                   // a string, compared exactly
)

// properties maps each property name of the language to the node field it
// filters on.
var properties = map[string]struct {
	kind   propKind
	number func(*testbed.Node) int64
	text   func(*testbed.Node) string
}{
	"cores":        {kind: number, number: func(n *testbed.Node) int64 { return int64(n.Properties.Cores) }},
	"gpu_count":    {kind: number, number: func(n *testbed.Node) int64 { return int64(n.Properties.GPUCount) }},
	"gpus":         {kind: number, number: func(n *testbed.Node) int64 { return int64(n.Properties.GPUCount) }},
	"memory":       {kind: size, number: func(n *testbed.Node) int64 { return n.Properties.Memory }},
	"disk":         {kind: size, number: func(n *testbed.Node) int64 { return n.Properties.Disk }},
	"network":      {kind: rate, number: func(n *testbed.Node) int64 { return n.Properties.NetworkRate }},
	"network_rate": {kind: rate, number: func(n *testbed.Node) int64 { return n.Properties.NetworkRate }},
	"cpu_model":    {kind: text, text: func(n *testbed.Node) string { return n.Properties.CPUModel }},
	"gpu_model":    {kind: text, text: func(n *testbed.Node) string { return n.Properties.GPUModel }},
	"cluster":      {kind: text, text: func(n *testbed.Node) string { return n.Cluster }},
}

// compile turns one property filter into a test. ok is false when no node
// can match (an unknown property, a value of the wrong type); a nil test with
// ok true matches every node (a value not known yet).
func compile(name string, want cty.Value) (t nodeTest, ok bool) {
	want, _ = want.Unmark()
	if !want.IsKnown() {
		return nil, true
	}
	if want.IsNull() {
		return nil, false
	}
	p, known := properties[name]
	if !known {
		return nil, false
	}
	if p.kind == text {
		if want.Type() != cty.String {
			return nil, false
		}
		s := want.AsString()
		return func(n *testbed.Node) bool { return p.text(n) == s }, true
	}
	least, ok := minimum(p.kind, want)
	if !ok {
		return nil, false
	}
	return func(n *testbed.Node) bool {
		return new(big.Float).SetInt64(p.number(n)).Cmp(least) >= 0
	}, true
}

// minimum reads the wanted value of a numeric property: a number, or a
// string that is a number or, for sizes and rates, a quantity with a unit.
func minimum(kind propKind, want cty.Value) (*big.Float, bool) {
	switch want.Type() {
	case cty.Number:
		return want.AsBigFloat(), true
	case cty.String:
		s := want.AsString()
		switch kind {
		case size:
			if n, err := units.ParseSize(s); err == nil {
				return new(big.Float).SetInt64(n), true
			}
		case rate:
			if n, err := units.ParseRate(s); err == nil {
				return new(big.Float).SetInt64(n), true
			}
		}
		if v, err := convert.Convert(want, cty.Number); err == nil {
			return v.AsBigFloat(), true
		}
	}
	return nil, false
}
