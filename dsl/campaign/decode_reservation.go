package campaign

import (
	"fmt"
	"sort"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// MaxNodes bounds the nodes of one reservation; larger numbers are typos.
const MaxNodes = 100000

// reservationTypes are the OAR job types a reservation may ask for.
var reservationTypes = []string{"deploy", "besteffort"}

func (d *decoder) reservation(b *body) Spec {
	s := &ReservationSpec{Walltime: time.Hour, Queue: "default"}
	site, siteAttr, siteOK := b.str("site")
	if siteOK {
		if site == "" {
			b.errorf(siteAttr.Expr.Range(), "Empty site", "site names the testbed site to reserve on, as in site = \"rennes\".")
			siteOK = false
		}
		s.Site = site
	}
	cluster, clusterAttr, clusterOK := b.str("cluster")
	s.Cluster = cluster

	nodes, nodesAttr, nodesOK := b.value("nodes")
	if nodesOK {
		switch ty := nodes.Type(); {
		case ty == cty.Number:
			n, err := wholeNumber(nodes, 1, MaxNodes)
			if err != "" {
				b.errorf(nodesAttr.Expr.Range(), "Invalid number of nodes", "nodes %s.", err)
				nodesOK = false
			}
			s.Nodes = n
		case ty.IsObjectType() || ty.IsMapType():
			if clusterAttr != nil {
				b.errorf(clusterAttr.Range, "Conflicting arguments",
					"nodes already names clusters (nodes = { paravance = 2 }), so cluster must not be set too. Remove cluster, or write nodes as a number.")
				nodesOK = false
				break
			}
			if nodes.LengthInt() == 0 {
				b.errorf(nodesAttr.Expr.Range(), "Invalid number of nodes", "nodes names no cluster: write nodes = { paravance = 2 } or nodes = 2.")
				nodesOK = false
				break
			}
			for it := nodes.ElementIterator(); it.Next(); {
				k, v := it.Element()
				c := k.AsString()
				n, err := wholeNumber(v, 1, MaxNodes)
				if err != "" {
					b.errorf(keyRange(nodesAttr.Expr, c), "Invalid number of nodes", "The number of nodes of cluster %q %s.", c, err)
					nodesOK = false
					continue
				}
				s.Groups = append(s.Groups, NodeGroup{Cluster: c, Nodes: n})
			}
			sort.Slice(s.Groups, func(i, j int) bool { return s.Groups[i].Cluster < s.Groups[j].Cluster })
		default:
			b.errorf(nodesAttr.Expr.Range(), "Incorrect value type",
				"nodes is a number of nodes (nodes = 4) or a number per cluster (nodes = { paravance = 2, parasilo = 1 }).")
			nodesOK = false
		}
	}

	props, propsAttr, propsOK := b.value("properties")
	if propsOK {
		if ty := props.Type(); !ty.IsObjectType() && !ty.IsMapType() {
			b.errorf(propsAttr.Expr.Range(), "Incorrect value type",
				"properties maps node properties to the values they must have, as in properties = { gpu_count = 1, memory = size(\"64GiB\") }.")
			propsOK = false
		} else {
			s.Properties = map[string]cty.Value{}
			for it := props.ElementIterator(); it.Next(); {
				k, v := it.Element()
				if t := v.Type(); v.IsNull() || (t != cty.String && t != cty.Number && t != cty.Bool) {
					b.errorf(keyRange(propsAttr.Expr, k.AsString()), "Invalid property value",
						"The property %q must be a string, a number or a bool.", k.AsString())
					propsOK = false
					continue
				}
				s.Properties[k.AsString()] = v
			}
		}
	}

	s.Walltime = b.duration("walltime", time.Hour)
	if q, _, ok := b.str("queue"); ok {
		s.Queue = q
	}
	if types := b.strList("types"); types != nil {
		a := b.content.Attributes["types"]
		for _, t := range types {
			if !contains(reservationTypes, t) {
				b.errorf(a.Expr.Range(), "Unknown reservation type",
					"%q is not a reservation type.%s The types are %s.", t, didYouMean(t, reservationTypes), quotedList(reservationTypes))
			}
		}
		s.Types = types
	}
	if start, a, ok := b.str("start"); ok {
		t, err := time.Parse(time.RFC3339, start)
		if err != nil {
			b.errorf(a.Expr.Range(), "Invalid start time",
				"start is an RFC 3339 date and time, as in start = \"2030-01-15T20:00:00Z\" (or with an offset, +01:00); %q is not.", start)
		} else {
			s.Start = &t
		}
	}
	s.pending = d.finish()

	// The testbed: only with an inventory, and only for values known now.
	if d.inv == nil || !siteOK {
		return s
	}
	siteAttr = b.content.Attributes["site"]
	if !d.inv.HasSite(site) {
		b.errorf(siteAttr.Expr.Range(), "No such site", "The testbed has no site %q. Check the spelling, or list the sites with the testbed API.", site)
		return s
	}
	if clusterOK && cluster != "" && !d.inv.HasCluster(site, cluster) {
		b.errorf(clusterAttr.Expr.Range(), "No such cluster", "Site %q has no cluster %q. Check the spelling, or pick a cluster of %s.", site, cluster, site)
		return s
	}
	if !nodesOK || (propsAttr != nil && !propsOK) {
		return s
	}
	if _, pend := s.expr("properties"); pend {
		return s
	}
	if _, pend := s.expr("cluster"); pend {
		return s
	}
	if len(s.Groups) == 0 {
		if have := d.inv.CountMatching(site, cluster, s.Properties); have < s.Nodes {
			b.errorf(nodesAttr.Expr.Range(), "Not enough matching nodes", "%s %s",
				shortage(s.Nodes, have, site, cluster, s.Properties), shortageFix(have))
		}
		return s
	}
	for _, g := range s.Groups {
		if !d.inv.HasCluster(site, g.Cluster) {
			b.errorf(keyRange(nodesAttr.Expr, g.Cluster), "No such cluster", "Site %q has no cluster %q. Check the spelling.", site, g.Cluster)
			continue
		}
		if have := d.inv.CountMatching(site, g.Cluster, s.Properties); have < g.Nodes {
			b.errorf(keyRange(nodesAttr.Expr, g.Cluster), "Not enough matching nodes", "%s %s",
				shortage(g.Nodes, have, site, g.Cluster, s.Properties), shortageFix(have))
		}
	}
	return s
}

func shortage(want, have int, site, cluster string, props map[string]cty.Value) string {
	where := "site " + site
	if cluster != "" {
		where = fmt.Sprintf("cluster %s of site %s", cluster, site)
	}
	with := ""
	if len(props) > 0 {
		with = " with " + formatProperties(props)
	}
	switch have {
	case 0:
		return fmt.Sprintf("This asks for %s of %s%s, but no node matches.", plural(want, "node"), where, with)
	case 1:
		return fmt.Sprintf("This asks for %s of %s%s, but only 1 node matches.", plural(want, "node"), where, with)
	}
	return fmt.Sprintf("This asks for %s of %s%s, but only %d match.", plural(want, "node"), where, with, have)
}

func shortageFix(have int) string {
	if have == 0 {
		return "Relax the properties, or choose another cluster or site."
	}
	return fmt.Sprintf("Ask for at most %d, or relax the filter.", have)
}

// keyRange finds the range of an item of an object constructor by key, to
// point at `parasilo = 3` rather than the whole map.
func keyRange(expr hcl.Expression, key string) hcl.Range {
	if oc, ok := expr.(*hclsyntax.ObjectConsExpr); ok {
		for _, item := range oc.Items {
			if v, diags := item.KeyExpr.Value(nil); !diags.HasErrors() && v.Type() == cty.String && v.IsKnown() && v.AsString() == key {
				return hcl.RangeBetween(item.KeyExpr.Range(), item.ValueExpr.Range())
			}
		}
	}
	return expr.Range()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
