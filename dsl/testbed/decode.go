package testbed

import (
	"fmt"
	"hash/fnv"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Schemas, from the top of the file down.
var (
	fileSchema = &hcl.BodySchema{
		Blocks: []hcl.BlockHeaderSchema{{Type: "site", LabelNames: []string{"uid"}}},
	}
	siteSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "name"}, {Name: "description"}, {Name: "location"},
			{Name: "latitude"}, {Name: "longitude"},
		},
		Blocks: []hcl.BlockHeaderSchema{{Type: "cluster", LabelNames: []string{"uid"}}},
	}
	clusterSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "description"}, {Name: "model"}, {Name: "queues"}},
		Blocks: []hcl.BlockHeaderSchema{
			{Type: "driver", LabelNames: []string{"kind"}},
			{Type: "nodes"},
			{Type: "node", LabelNames: []string{"uid"}},
		},
	}
	simSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "boot_time"}, {Name: "deploy_time"}, {Name: "copy_rate"},
			{Name: "failure_rate"}, {Name: "seed"},
		},
	}
	agentSchema  = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "agents"}}}
	dockerSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "host"}, {Name: "hosts"}}}
	nodesSchema  = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "count"}, {Name: "name"}, {Name: "first"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "properties"}},
	}
	nodeSchema = &hcl.BodySchema{
		Blocks: []hcl.BlockHeaderSchema{{Type: "properties"}},
	}
	propertiesSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "cores"}, {Name: "cpu_model"}, {Name: "memory"}, {Name: "disk"}, {Name: "network"},
		},
		Blocks: []hcl.BlockHeaderSchema{{Type: "gpu"}},
	}
	gpuSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "count"}, {Name: "model"}},
	}
)

// DefaultQueues are the queues of a cluster that does not list its own.
var DefaultQueues = []string{"default", "besteffort", "admin"}

// Defaults of the sim driver. They are short on purpose: the sim driver
// serves development and tests, where a campaign should finish in seconds.
const (
	DefaultBootTime   = 5 * time.Second
	DefaultDeployTime = 15 * time.Second
	DefaultCopyRate   = 10_000_000_000 // 10 Gbps
)

// Bounds of single values.
const (
	maxSimDuration = 24 * time.Hour
	maxCores       = 65536
	maxGPUs        = 64
	maxFirst       = 1_000_000_000
)

// The declarations below keep what phase 3 needs: where each thing was
// written, so that cross-reference diagnostics point at it.
type siteDecl struct {
	site     *Site
	clusters []*clusterDecl
}

type clusterDecl struct {
	cluster  *Cluster
	defRange hcl.Range // `cluster "x"`
	driver   hcl.Range // `driver "agent"`
	agents   []agentDecl
	docker   []agentDecl // the hosts map of a docker driver
	runs     []*nodeRun
}

type agentDecl struct {
	node, addr string
	key, value hcl.Range
}

// nodeRun is a nodes block (count > 0, pattern set) or a node block (one
// explicit uid).
type nodeRun struct {
	uid           string // explicit node
	pattern       string // nodes block
	first, count  int
	props         Properties
	subject       hcl.Range // label of a node block, name of a nodes block
	defRange      hcl.Range
	site, cluster string
}

func (r *nodeRun) name(i int) string {
	if r.pattern == "" {
		return r.uid
	}
	return strings.Replace(r.pattern, "%d", strconv.Itoa(r.first+i), 1)
}

func (r *nodeRun) describe() string {
	if r.pattern == "" {
		return fmt.Sprintf("node %q", r.uid)
	}
	return fmt.Sprintf("the nodes block %q (%d to %d)", r.pattern, r.first, r.first+r.count-1)
}

// decodeFile runs phases 2 and 3 on a syntactically valid file.
func decodeFile(file *hcl.File, diags hcl.Diagnostics) (*Testbed, hcl.Diagnostics) {
	d := &decoder{diags: diags}
	start := len(d.diags)
	sites := d.decodeSites(file.Body)
	d.sortFrom(start)
	if d.diags.HasErrors() {
		return nil, d.diags
	}
	start = len(d.diags)
	tb := d.resolve(sites)
	d.sortFrom(start)
	if d.diags.HasErrors() {
		return nil, d.diags
	}
	return tb, d.diags
}

// decodeSites is phase 2: every block and argument, and the node counts. It
// goes on after an error in one site or cluster because the errors of
// different blocks are independent.
func (d *decoder) decodeSites(body hcl.Body) []*siteDecl {
	content, diags := body.Content(fileSchema)
	d.diags = append(d.diags, diags...)
	if len(content.Blocks) == 0 && !diags.HasErrors() {
		d.errorf(body.MissingItemRange(), "No sites",
			"A testbed file declares at least one site block, for example:\n\nsite \"rennes\" {\n  cluster \"paravance\" {\n    driver \"sim\" {}\n    nodes {\n      count = 4\n      name  = \"paravance-%%d\"\n      properties {\n        cores  = 16\n        memory = \"128GiB\"\n      }\n    }\n  }\n}")
	}
	var sites []*siteDecl
	seen := map[string]hcl.Range{}
	total := 0
	for _, b := range content.Blocks {
		uid := b.Labels[0]
		if !ValidUID(uid) {
			d.errorf(b.LabelRanges[0], "Invalid site uid", "%s", uidHint("site", uid))
		} else if first, dup := seen[uid]; dup {
			d.errorf(b.LabelRanges[0], "Duplicate site", "A site %q is already declared at %s. Site uids are unique in a testbed: rename this one or merge the two blocks.", uid, where(first))
		} else {
			seen[uid] = b.LabelRanges[0]
		}
		sites = append(sites, d.decodeSite(b, &total))
	}
	return sites
}

func (d *decoder) decodeSite(b *hcl.Block, total *int) *siteDecl {
	uid := b.Labels[0]
	content, diags := b.Body.Content(siteSchema)
	d.diags = append(d.diags, diags...)
	s := &Site{UID: uid, Name: uid}
	if a := content.Attributes["name"]; a != nil {
		if v, ok := d.str(a); ok {
			if strings.TrimSpace(v) == "" {
				d.invalid(a, "The name must not be empty; remove the argument to use the uid.")
			}
			s.Name = v
		}
	}
	if a := content.Attributes["description"]; a != nil {
		s.Description, _ = d.str(a)
	}
	if a := content.Attributes["location"]; a != nil {
		s.Location, _ = d.str(a)
	}
	if a := content.Attributes["latitude"]; a != nil {
		s.Latitude, _ = d.float(a, -90, 90, "latitude in degrees")
	}
	if a := content.Attributes["longitude"]; a != nil {
		s.Longitude, _ = d.float(a, -180, 180, "longitude in degrees")
	}
	decl := &siteDecl{site: s}
	if len(content.Blocks) == 0 && !diags.HasErrors() {
		d.errorf(b.DefRange, "Site has no clusters", "Site %q declares no cluster block. Add at least one cluster with a driver and nodes, or remove the site.", uid)
	}
	seen := map[string]hcl.Range{}
	for _, cb := range content.Blocks {
		cuid := cb.Labels[0]
		if !ValidUID(cuid) {
			d.errorf(cb.LabelRanges[0], "Invalid cluster uid", "%s", uidHint("cluster", cuid))
		} else if first, dup := seen[cuid]; dup {
			d.errorf(cb.LabelRanges[0], "Duplicate cluster", "Site %q already has a cluster %q, declared at %s. Cluster uids are unique within a site: rename this one or merge the two blocks.", uid, cuid, where(first))
		} else {
			seen[cuid] = cb.LabelRanges[0]
		}
		c := d.decodeCluster(uid, cb, total)
		decl.clusters = append(decl.clusters, c)
		s.Clusters = append(s.Clusters, c.cluster)
	}
	return decl
}

func (d *decoder) decodeCluster(site string, b *hcl.Block, total *int) *clusterDecl {
	uid := b.Labels[0]
	content, diags := b.Body.Content(clusterSchema)
	d.diags = append(d.diags, diags...)
	c := &Cluster{UID: uid, Site: site, Queues: append([]string(nil), DefaultQueues...)}
	decl := &clusterDecl{cluster: c, defRange: b.DefRange}
	if a := content.Attributes["description"]; a != nil {
		c.Description, _ = d.str(a)
	}
	if a := content.Attributes["model"]; a != nil {
		c.Model, _ = d.str(a)
	}
	if a := content.Attributes["queues"]; a != nil {
		if q, ok := d.queues(a); ok {
			c.Queues = q
		}
	}

	var driver *hcl.Block
	nodeBlocks := 0
	for _, nb := range content.Blocks {
		switch nb.Type {
		case "driver":
			if driver != nil {
				d.errorf(nb.DefRange, "Duplicate driver", "Cluster %s/%s already has a driver, declared at %s. A cluster has exactly one driver: remove one of the blocks.", site, uid, where(driver.DefRange))
				continue
			}
			driver = nb
			d.decodeDriver(site, uid, nb, decl)
		case "nodes":
			nodeBlocks++
			if r := d.decodeNodes(site, uid, nb, total); r != nil {
				decl.runs = append(decl.runs, r)
			}
		case "node":
			nodeBlocks++
			if r := d.decodeNode(site, uid, nb, total); r != nil {
				decl.runs = append(decl.runs, r)
			}
		}
	}
	if driver == nil && !diags.HasErrors() {
		d.errorf(b.DefRange, "Missing driver", "Cluster %s/%s has no driver block. Add one: driver \"sim\" {} for simulated hardware, driver \"agent\" { agents = { ... } } for machines running gridflow agents, or driver \"docker\" {}.", site, uid)
	}
	if nodeBlocks == 0 && !diags.HasErrors() {
		d.errorf(b.DefRange, "Cluster has no nodes", "Cluster %s/%s declares no nodes. Add a nodes block (count, name pattern and properties) or node blocks.", site, uid)
	}
	return decl
}

func (d *decoder) queues(a *hcl.Attribute) ([]string, bool) {
	if !d.static(a.Expr) {
		return nil, false
	}
	elems, diags := hcl.ExprList(a.Expr)
	if diags.HasErrors() {
		d.invalid(a, "A list of queue names is required.")
		return nil, false
	}
	if len(elems) == 0 {
		d.invalid(a, "A cluster needs at least one queue; remove the argument to use all of %s.", strings.Join(DefaultQueues, ", "))
		return nil, false
	}
	var out []string
	seen := map[string]bool{}
	ok := true
	for _, e := range elems {
		v, vok := d.eval(e)
		if !vok {
			ok = false
			continue
		}
		q, sok := d.asString("queues", e.Range(), a.Range, v)
		if !sok {
			ok = false
			continue
		}
		switch {
		case !knownQueue(q):
			d.errorf(e.Range(), "Unknown queue", "%q is not a queue. The queues are %s.", q, strings.Join(DefaultQueues, ", "))
			ok = false
		case seen[q]:
			d.errorf(e.Range(), "Duplicate queue", "Queue %q is listed twice; remove one.", q)
			ok = false
		default:
			seen[q] = true
			out = append(out, q)
		}
	}
	return out, ok
}

func knownQueue(q string) bool {
	for _, k := range DefaultQueues {
		if q == k {
			return true
		}
	}
	return false
}

func (d *decoder) decodeDriver(site, cluster string, b *hcl.Block, decl *clusterDecl) {
	kind := b.Labels[0]
	decl.driver = b.DefRange
	c := decl.cluster
	c.Driver.Kind = kind
	switch kind {
	case DriverSim:
		content, diags := b.Body.Content(simSchema)
		d.diags = append(d.diags, diags...)
		sim := &SimConfig{
			BootTime:   DefaultBootTime,
			DeployTime: DefaultDeployTime,
			CopyRate:   DefaultCopyRate,
			Seed:       defaultSeed(site, cluster),
		}
		for _, name := range []string{"boot_time", "deploy_time"} {
			a := content.Attributes[name]
			if a == nil {
				continue
			}
			v, ok := d.duration(a)
			if !ok {
				continue
			}
			if v > maxSimDuration {
				d.invalid(a, "A simulated %s longer than %s is almost certainly a mistake; the sim driver is for development, where seconds are usual.", strings.ReplaceAll(name, "_", " "), maxSimDuration)
				continue
			}
			if name == "boot_time" {
				sim.BootTime = v
			} else {
				sim.DeployTime = v
			}
		}
		if a := content.Attributes["copy_rate"]; a != nil {
			if v, ok := d.rate(a); ok {
				if v <= 0 {
					d.invalid(a, "The copy rate must be positive: simulated copies of any size would never end.")
				} else {
					sim.CopyRate = v
				}
			}
		}
		if a := content.Attributes["failure_rate"]; a != nil {
			sim.FailureRate, _ = d.float(a, 0, 1, "failure rate (a probability)")
		}
		if a := content.Attributes["seed"]; a != nil {
			sim.Seed, _ = d.integer(a, -1<<63, 1<<63-1, "seed")
		}
		c.Driver.Sim = sim
	case DriverAgent:
		content, diags := b.Body.Content(agentSchema)
		d.diags = append(d.diags, diags...)
		a := content.Attributes["agents"]
		if a == nil {
			if !diags.HasErrors() {
				d.errorf(b.DefRange, "Missing agents", "The agent driver needs the address of the gridflow agent of every node of cluster %s/%s: add agents = { \"node-uid\" = \"host:port\", ... }.", site, cluster)
			}
			return
		}
		d.agents(a, decl)
	case DriverDocker:
		content, diags := b.Body.Content(dockerSchema)
		d.diags = append(d.diags, diags...)
		c.Driver.Docker = &DockerConfig{}
		if a := content.Attributes["host"]; a != nil {
			if v, ok := d.str(a); ok {
				if msg := checkDockerHost(v); msg != "" {
					d.invalid(a, "%q is not a Docker Engine address: %s. For example \"unix:///var/run/docker.sock\" or \"tcp://10.0.0.5:2375\".", v, msg)
				} else {
					c.Driver.Docker.Host = v
				}
			}
		}
		if a := content.Attributes["hosts"]; a != nil {
			d.dockerHosts(a, decl)
		}
	default:
		d.errorf(b.LabelRanges[0], "Unknown driver", "%q is not a driver. Use \"sim\" for simulated hardware, \"agent\" for machines that run gridflow agents, or \"docker\" for a container runtime.", kind)
	}
}

// defaultSeed derives a stable seed from the cluster's identity so that
// clusters without a seed do not fail in lockstep.
func defaultSeed(site, cluster string) int64 {
	h := fnv.New64a()
	h.Write([]byte(site + "/" + cluster))
	return int64(h.Sum64() &^ (1 << 63))
}

func (d *decoder) agents(a *hcl.Attribute, decl *clusterDecl) {
	if !d.static(a.Expr) {
		return
	}
	pairs, diags := hcl.ExprMap(a.Expr)
	if diags.HasErrors() {
		d.invalid(a, "A map from node uid to agent address is required.")
		return
	}
	if len(pairs) == 0 {
		d.invalid(a, "The map is empty: give the agent address of every node of the cluster.")
		return
	}
	seen := map[string]hcl.Range{}
	for _, p := range pairs {
		kv, ok := d.eval(p.Key)
		if !ok {
			continue
		}
		node, ok := d.asString("agents", p.Key.Range(), a.Range, kv)
		if !ok {
			continue
		}
		vv, ok := d.eval(p.Value)
		if !ok {
			continue
		}
		addr, ok := d.asString("agents", p.Value.Range(), a.Range, vv)
		if !ok {
			continue
		}
		if first, dup := seen[node]; dup {
			d.errorf(p.Key.Range(), "Duplicate agent", "Node %q already has an agent address at %s; give each node one address.", node, where(first))
			continue
		}
		seen[node] = p.Key.Range()
		if err := checkAddr(addr); err != "" {
			d.errorf(p.Value.Range(), "Invalid agent address", "%q is not a host:port address: %s. For example \"127.0.0.2:7070\" or \"node-1.lab:7070\".", addr, err)
			continue
		}
		decl.agents = append(decl.agents, agentDecl{node: node, addr: addr, key: p.Key.Range(), value: p.Value.Range()})
	}
}

// dockerHosts decodes the node → Docker Engine map of a docker driver.
func (d *decoder) dockerHosts(a *hcl.Attribute, decl *clusterDecl) {
	if !d.static(a.Expr) {
		return
	}
	pairs, diags := hcl.ExprMap(a.Expr)
	if diags.HasErrors() {
		d.invalid(a, "A map from node uid to Docker Engine address is required, for example { \"box-1\" = \"tcp://10.0.0.5:2375\" }.")
		return
	}
	seen := map[string]hcl.Range{}
	for _, p := range pairs {
		kv, ok := d.eval(p.Key)
		if !ok {
			continue
		}
		node, ok := d.asString("hosts", p.Key.Range(), a.Range, kv)
		if !ok {
			continue
		}
		vv, ok := d.eval(p.Value)
		if !ok {
			continue
		}
		host, ok := d.asString("hosts", p.Value.Range(), a.Range, vv)
		if !ok {
			continue
		}
		if first, dup := seen[node]; dup {
			d.errorf(p.Key.Range(), "Duplicate Docker host", "Node %q already has a Docker Engine address at %s; give each node one address.", node, where(first))
			continue
		}
		seen[node] = p.Key.Range()
		if msg := checkDockerHost(host); msg != "" {
			d.errorf(p.Value.Range(), "Invalid Docker host", "%q is not a Docker Engine address: %s. For example \"unix:///var/run/docker.sock\" or \"tcp://10.0.0.5:2375\".", host, msg)
			continue
		}
		decl.docker = append(decl.docker, agentDecl{node: node, addr: host, key: p.Key.Range(), value: p.Value.Range()})
	}
}

// checkDockerHost returns why s cannot address a Docker Engine, or "".
func checkDockerHost(s string) string {
	switch {
	case strings.HasPrefix(s, "unix://"):
		if p := strings.TrimPrefix(s, "unix://"); !strings.HasPrefix(p, "/") {
			return "a unix socket is named by an absolute path after unix://"
		}
		return ""
	case strings.HasPrefix(s, "tcp://"):
		return checkAddr(strings.TrimPrefix(s, "tcp://"))
	case strings.Contains(s, "://"):
		return "use unix:// or tcp://"
	}
	return checkAddr(s)
}

func checkAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		if ae, ok := err.(*net.AddrError); ok {
			return ae.Err
		}
		return err.Error()
	}
	if host == "" {
		return "the host is missing"
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return "the port must be a number from 1 to 65535"
	}
	return ""
}

// addNodes counts n more nodes against MaxNodes and reports the block that
// goes over it, once.
func (d *decoder) addNodes(total *int, n int, subject hcl.Range) bool {
	if *total > MaxNodes { // already reported
		return false
	}
	*total += n
	if *total > MaxNodes {
		d.errorf(subject, "Too many nodes", "With this block the testbed declares more than %d nodes, the most one engine manages. Lower the counts or split the hardware across several testbeds.", MaxNodes)
		return false
	}
	return true
}

func (d *decoder) decodeNodes(site, cluster string, b *hcl.Block, total *int) *nodeRun {
	content, diags := b.Body.Content(nodesSchema)
	d.diags = append(d.diags, diags...)
	r := &nodeRun{first: 1, site: site, cluster: cluster, defRange: b.DefRange}
	ok := !diags.HasErrors()

	countAttr := content.Attributes["count"]
	if countAttr == nil {
		d.errorf(b.DefRange, "Missing count", "A nodes block needs the number of nodes it declares: add count = N (1 to %d).", MaxNodesPerBlock)
		ok = false
	} else if f, fok := d.number(countAttr); !fok {
		ok = false
	} else {
		switch n, acc := f.Int64(); {
		case !f.IsInt():
			d.invalid(countAttr, "The count must be a whole number of nodes, not %s.", numText(f))
			ok = false
		case f.Sign() <= 0:
			d.diags = append(d.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid node count",
				Detail:   fmt.Sprintf("The count must be at least 1, not %s. Remove the nodes block to declare no nodes.", numText(f)),
				Subject:  countAttr.Expr.Range().Ptr(),
				Context:  countAttr.Range.Ptr(),
			})
			ok = false
		case acc != 0 || n > MaxNodesPerBlock:
			d.diags = append(d.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Too many nodes in one block",
				Detail:   fmt.Sprintf("A nodes block declares at most %d nodes, not %s. Split the nodes into several blocks with different first values, or check the count for a typo.", MaxNodesPerBlock, numText(f)),
				Subject:  countAttr.Expr.Range().Ptr(),
				Context:  countAttr.Range.Ptr(),
			})
			ok = false
		default:
			r.count = int(n)
		}
	}

	if a := content.Attributes["first"]; a != nil {
		if v, vok := d.integer(a, 0, maxFirst, "first node number"); vok {
			r.first = int(v)
		} else {
			ok = false
		}
	}

	nameAttr := content.Attributes["name"]
	if nameAttr == nil {
		d.errorf(b.DefRange, "Missing name", "A nodes block needs a name pattern with one %%d, replaced by the node number: add name = \"%s-%%d\".", cluster)
		ok = false
	} else if p, pok := d.str(nameAttr); !pok {
		ok = false
	} else if msg := checkPattern(p); msg != "" {
		d.diags = append(d.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid node name pattern",
			Detail:   msg,
			Subject:  nameAttr.Expr.Range().Ptr(),
			Context:  nameAttr.Range.Ptr(),
		})
		ok = false
	} else {
		r.pattern = p
		r.subject = nameAttr.Expr.Range()
		if ok {
			last := strings.Replace(p, "%d", strconv.Itoa(r.first+r.count-1), 1)
			if !ValidUID(last) {
				d.errorf(nameAttr.Expr.Range(), "Invalid node name pattern", "The pattern yields uids such as %q, longer than %d characters. Use a shorter pattern.", last, MaxUIDLength)
				ok = false
			}
		}
	}

	props, pok := d.propertiesOf(site, cluster, b, content.Blocks)
	r.props = props
	if !ok || !pok {
		return nil
	}
	if !d.addNodes(total, r.count, countAttr.Expr.Range()) {
		return nil
	}
	return r
}

// checkPattern returns why p cannot name nodes, or "".
func checkPattern(p string) string {
	n := strings.Count(p, "%d")
	switch {
	case n == 0:
		return fmt.Sprintf("The pattern %q has no %%d: each node needs its own number. Write it like \"node-%%d\".", p)
	case n > 1:
		return fmt.Sprintf("The pattern %q has %d %%d; it takes exactly one, replaced by the node number.", p, n)
	case strings.Count(p, "%") > 1:
		return fmt.Sprintf("The pattern %q has a %% other than %%d. Node uids contain only lowercase letters, digits and \"-\"; %%d is the only verb.", p)
	}
	if sample := strings.Replace(p, "%d", "1", 1); !ValidUID(sample) {
		msg := fmt.Sprintf("The pattern gives node uids such as %q, which are not valid. %s", sample, uidRules)
		before, after, _ := strings.Cut(p, "%d")
		if sug := strings.TrimLeft(sanitizeUID(before), "-") + "%d" + sanitizeUID(after); sug != p && ValidUID(strings.Replace(sug, "%d", "1", 1)) {
			msg += fmt.Sprintf(" Did you mean %q?", sug)
		}
		return msg
	}
	return ""
}

func (d *decoder) decodeNode(site, cluster string, b *hcl.Block, total *int) *nodeRun {
	uid := b.Labels[0]
	content, diags := b.Body.Content(nodeSchema)
	d.diags = append(d.diags, diags...)
	ok := !diags.HasErrors()
	if !ValidUID(uid) {
		d.errorf(b.LabelRanges[0], "Invalid node uid", "%s", uidHint("node", uid))
		ok = false
	}
	props, pok := d.propertiesOf(site, cluster, b, content.Blocks)
	if !ok || !pok || !d.addNodes(total, 1, b.LabelRanges[0]) {
		return nil
	}
	return &nodeRun{uid: uid, count: 1, props: props, subject: b.LabelRanges[0], defRange: b.DefRange, site: site, cluster: cluster}
}

// propertiesOf decodes the one properties block among blocks.
func (d *decoder) propertiesOf(site, cluster string, parent *hcl.Block, blocks hcl.Blocks) (Properties, bool) {
	var pb *hcl.Block
	for _, b := range blocks {
		if b.Type != "properties" {
			continue
		}
		if pb != nil {
			d.errorf(b.DefRange, "Duplicate properties", "This %s block already has properties at %s; merge the two blocks.", parent.Type, where(pb.DefRange))
			return Properties{}, false
		}
		pb = b
	}
	if pb == nil {
		d.errorf(parent.DefRange, "Missing properties", "A %s block of cluster %s/%s needs a properties block with at least cores and memory, for example properties { cores = 16  memory = \"128GiB\" }.", parent.Type, site, cluster)
		return Properties{}, false
	}
	return d.properties(pb)
}

func (d *decoder) properties(b *hcl.Block) (Properties, bool) {
	content, diags := b.Body.Content(propertiesSchema)
	d.diags = append(d.diags, diags...)
	ok := !diags.HasErrors()
	var p Properties
	if a := content.Attributes["cores"]; a == nil {
		d.errorf(b.DefRange, "Missing cores", "Properties need the number of CPU cores of the node: add cores = N.")
		ok = false
	} else if v, vok := d.integer(a, 1, maxCores, "number of cores"); vok {
		p.Cores = int(v)
	} else {
		ok = false
	}
	if a := content.Attributes["cpu_model"]; a != nil {
		var sok bool
		if p.CPUModel, sok = d.str(a); !sok {
			ok = false
		}
	}
	if a := content.Attributes["memory"]; a == nil {
		d.errorf(b.DefRange, "Missing memory", "Properties need the memory of the node: add memory = \"128GiB\".")
		ok = false
	} else if v, vok := d.size(a); !vok {
		ok = false
	} else if v <= 0 {
		d.invalid(a, "The memory must be more than zero.")
		ok = false
	} else {
		p.Memory = v
	}
	if a := content.Attributes["disk"]; a != nil {
		if v, vok := d.size(a); vok {
			p.Disk = v
		} else {
			ok = false
		}
	}
	if a := content.Attributes["network"]; a != nil {
		if v, vok := d.rate(a); !vok {
			ok = false
		} else if v <= 0 {
			d.invalid(a, "The network rate must be more than zero; remove the argument if it is unknown.")
			ok = false
		} else {
			p.NetworkRate = v
		}
	}
	var gpu *hcl.Block
	for _, gb := range content.Blocks {
		if gpu != nil {
			d.errorf(gb.DefRange, "Duplicate gpu", "These properties already have a gpu block at %s. Describe all the GPUs of a node in one block: count and model.", where(gpu.DefRange))
			ok = false
			continue
		}
		gpu = gb
		if !d.gpu(gb, &p) {
			ok = false
		}
	}
	return p, ok
}

func (d *decoder) gpu(b *hcl.Block, p *Properties) bool {
	d.scope = "gpu"
	defer func() { d.scope = "" }()
	content, diags := b.Body.Content(gpuSchema)
	d.diags = append(d.diags, diags...)
	ok := !diags.HasErrors()
	a := content.Attributes["count"]
	if a == nil {
		d.errorf(b.DefRange, "Missing GPU count", "A gpu block needs the number of GPUs of the node: add count = N, or remove the block if the node has none.")
		return false
	}
	if v, vok := d.integer(a, 0, maxGPUs, "number of GPUs"); vok {
		p.GPUCount = int(v)
	} else {
		ok = false
	}
	if m := content.Attributes["model"]; m != nil {
		var sok bool
		if p.GPUModel, sok = d.str(m); !sok {
			ok = false
		} else if p.GPUCount == 0 && p.GPUModel != "" && ok {
			d.warnf(m.Expr.Range(), "GPU model without GPUs", "The gpu block names a model but its count is 0, so the node has no GPU. Set count, or remove the model.")
		}
	}
	return ok
}
