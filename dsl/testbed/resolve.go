package testbed

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// resolve is phase 3: it expands node runs into nodes, checks that node uids
// are unique across the testbed and that agent maps match their clusters.
// Phase 2 has bounded the number of nodes, so expansion cannot blow up.
func (d *decoder) resolve(sites []*siteDecl) *Testbed {
	total := 0
	for _, s := range sites {
		for _, c := range s.clusters {
			for _, r := range c.runs {
				total += r.count
			}
		}
	}
	tb := &Testbed{Sites: make([]*Site, 0, len(sites)), byUID: make(map[string]*Node, total)}
	owner := make(map[string]*nodeRun, total)

	// Collisions are reported once per pair of runs, not once per node: two
	// overlapping nodes blocks of 100000 nodes make one diagnostic.
	type pair struct{ run, first *nodeRun }
	type collision struct {
		n       int
		samples []string
	}
	collisions := map[pair]*collision{}
	var order []pair

	for _, s := range sites {
		tb.Sites = append(tb.Sites, s.site)
		for _, c := range s.clusters {
			nodes := make([]*Node, 0, clusterSize(c))
			for _, r := range c.runs {
				for i := 0; i < r.count; i++ {
					uid := r.name(i)
					if first, dup := owner[uid]; dup {
						k := pair{r, first}
						col := collisions[k]
						if col == nil {
							col = &collision{}
							collisions[k] = col
							order = append(order, k)
						}
						col.n++
						if len(col.samples) < 3 {
							col.samples = append(col.samples, uid)
						}
						continue
					}
					owner[uid] = r
					n := &Node{UID: uid, Site: r.site, Cluster: r.cluster, Properties: r.props}
					nodes = append(nodes, n)
					tb.byUID[uid] = n
				}
			}
			c.cluster.Nodes = nodes
		}
	}

	for _, k := range order {
		col := collisions[k]
		var detail string
		if col.n == 1 {
			detail = fmt.Sprintf("Node %q is also declared by %s at %s, in cluster %s/%s.", col.samples[0], k.first.describe(), where(k.first.subject), k.first.site, k.first.cluster)
		} else {
			detail = fmt.Sprintf("%d node uids declared here, such as %s, are also declared by %s at %s, in cluster %s/%s.", col.n, quoteList(col.samples), k.first.describe(), where(k.first.subject), k.first.site, k.first.cluster)
		}
		detail += " Node uids are unique across the whole testbed: rename the nodes, or change the name pattern, first or count so that the runs do not overlap."
		d.diags = append(d.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Duplicate node uid",
			Detail:   detail,
			Subject:  k.run.subject.Ptr(),
			Context:  k.run.defRange.Ptr(),
		})
	}
	if d.diags.HasErrors() {
		// An agent map checked against a testbed with missing nodes would
		// only echo the collisions.
		return nil
	}

	addrs := map[string]hcl.Range{}
	for _, s := range sites {
		for _, c := range s.clusters {
			switch c.cluster.Driver.Kind {
			case DriverAgent:
				d.resolveAgents(c, owner, addrs)
			case DriverDocker:
				d.resolveDockerHosts(c, owner)
			}
		}
	}
	return tb
}

func clusterSize(c *clusterDecl) int {
	n := 0
	for _, r := range c.runs {
		n += r.count
	}
	return n
}

func (d *decoder) resolveAgents(c *clusterDecl, owner map[string]*nodeRun, addrs map[string]hcl.Range) {
	cl := c.cluster
	agents := make(map[string]string, len(c.agents))
	for _, a := range c.agents {
		r := owner[a.node]
		switch {
		case r == nil:
			d.errorf(a.key, "Unknown node", "The agent map of cluster %s/%s names node %q, which no site declares. Its nodes are %s; fix the uid or remove the entry.", cl.Site, cl.UID, a.node, nodeSummary(cl.Nodes))
			continue
		case r.site != cl.Site || r.cluster != cl.UID:
			d.errorf(a.key, "Node of another cluster", "Node %q belongs to cluster %s/%s (declared at %s), not to %s/%s. Give its agent address in the driver of its own cluster.", a.node, r.site, r.cluster, where(r.subject), cl.Site, cl.UID)
			continue
		}
		if first, dup := addrs[a.addr]; dup {
			d.warnf(a.value, "Shared agent address", "Address %q is also given at %s. An agent reports the facts of its own host, so two nodes behind one agent are one machine booked twice; give each node its own agent.", a.addr, where(first))
		} else {
			addrs[a.addr] = a.value
		}
		agents[a.node] = a.addr
	}
	var missing []string
	nmissing := 0
	for _, n := range cl.Nodes {
		if _, ok := agents[n.UID]; !ok {
			nmissing++
			if len(missing) < 3 {
				missing = append(missing, n.UID)
			}
		}
	}
	if nmissing > 0 {
		list := quoteList(missing)
		if nmissing > len(missing) {
			q := make([]string, len(missing))
			for i, m := range missing {
				q[i] = fmt.Sprintf("%q", m)
			}
			list = fmt.Sprintf("%d nodes: %s and %d more", nmissing, strings.Join(q, ", "), nmissing-len(missing))
		}
		d.errorf(c.driver, "Nodes without agent", "The agent driver of cluster %s/%s has no address for %s. Add an entry \"node-uid\" = \"host:port\" to agents for each node.", cl.Site, cl.UID, list)
	}
	cl.Driver.Agents = agents
}

// resolveDockerHosts checks that the hosts map of a docker driver names
// nodes of its own cluster; nodes it does not name use the driver's host.
func (d *decoder) resolveDockerHosts(c *clusterDecl, owner map[string]*nodeRun) {
	cl := c.cluster
	for _, a := range c.docker {
		r := owner[a.node]
		switch {
		case r == nil:
			d.errorf(a.key, "Unknown node", "The hosts map of cluster %s/%s names node %q, which no site declares. Its nodes are %s; fix the uid or remove the entry.", cl.Site, cl.UID, a.node, nodeSummary(cl.Nodes))
			continue
		case r.site != cl.Site || r.cluster != cl.UID:
			d.errorf(a.key, "Node of another cluster", "Node %q belongs to cluster %s/%s (declared at %s), not to %s/%s. Give its Docker Engine in the driver of its own cluster.", a.node, r.site, r.cluster, where(r.subject), cl.Site, cl.UID)
			continue
		}
		if cl.Driver.Docker.Hosts == nil {
			cl.Driver.Docker.Hosts = map[string]string{}
		}
		cl.Driver.Docker.Hosts[a.node] = a.addr
	}
}

// nodeSummary describes a cluster's nodes briefly: a cluster may have
// thousands, and a Detail is read by a person.
func nodeSummary(nodes []*Node) string {
	switch len(nodes) {
	case 0:
		return "none"
	case 1, 2, 3:
		uids := make([]string, len(nodes))
		for i, n := range nodes {
			uids[i] = n.UID
		}
		return quoteList(uids)
	}
	return fmt.Sprintf("%q to %q (%d nodes)", nodes[0].UID, nodes[len(nodes)-1].UID, len(nodes))
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprintf("%q", x)
	}
	switch len(q) {
	case 0:
		return ""
	case 1:
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " and " + q[len(q)-1]
}
