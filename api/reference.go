package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/gridflow/gridflow/dsl/testbed"
	"github.com/gridflow/gridflow/dsl/units"
	"github.com/gridflow/gridflow/engine"
	"github.com/gridflow/gridflow/engine/store"
)

// RefQuery selects which version of the reference a request reads (Grid'5000's
// ?version= and ?timestamp=); without them it reads the current one.
type RefQuery struct {
	Version   string `query:"version" maxLength:"64" doc:"Read the resource as it was at this testbed version (a uid from …/versions)"`
	Timestamp string `query:"timestamp" maxLength:"40" doc:"Read the resource as it was at this time: UNIX seconds or RFC 3339"`
}

// snapshot resolves the version a request asks for; live is true for the
// current version, the only one with live node states.
func (s *Server) snapshot(ctx context.Context, q RefQuery) (snap *engine.Snapshot, live bool, err error) {
	switch {
	case q.Version != "" && q.Timestamp != "":
		return nil, false, huma.Error400BadRequest("give either version or timestamp, not both")
	case q.Version != "":
		snap, err = s.eng.Version(ctx, q.Version)
		if errors.Is(err, store.ErrNotFound) {
			return nil, false, huma.Error404NotFound("no testbed version " + quote(q.Version) + ": list them at " + base(ctx) + "/versions")
		}
	case q.Timestamp != "":
		t, perr := parseTimestamp(q.Timestamp)
		if perr != nil {
			return nil, false, huma.Error400BadRequest(perr.Error())
		}
		snap, err = s.eng.At(ctx, t)
		if errors.Is(err, store.ErrNotFound) {
			return nil, false, huma.Error404NotFound("the testbed had no version yet at " + t.UTC().Format(time.RFC3339))
		}
	default:
		snap, err = s.eng.Current(ctx)
		if errors.Is(err, engine.ErrNoTestbed) {
			return nil, false, huma.Error503ServiceUnavailable(err.Error())
		}
		if err == nil {
			return snap, true, nil
		}
	}
	if err != nil {
		return nil, false, huma.Error500InternalServerError("cannot read the testbed: " + err.Error())
	}
	cur, cerr := s.eng.Current(ctx)
	return snap, cerr == nil && cur.Version.UID == snap.Version.UID, nil
}

func parseTimestamp(v string) (time.Time, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, errors.New("timestamp must be UNIX seconds (1700000000) or RFC 3339 (2026-11-24T10:00:00Z), got " + quote(v))
	}
	return t, nil
}

// SiteItem is a site of the testbed.
type SiteItem struct {
	itemMedia
	UID         string  `json:"uid" example:"rennes"`
	Type        string  `json:"type" example:"site"`
	Name        string  `json:"name" example:"Rennes"`
	Description string  `json:"description,omitempty"`
	Location    string  `json:"location,omitempty" example:"Rennes, France"`
	Latitude    float64 `json:"latitude"`
	Longitude   float64 `json:"longitude"`
	Clusters    int     `json:"cluster_count"`
	Nodes       int     `json:"node_count"`
	Version     string  `json:"version" doc:"Testbed version this representation comes from"`
	Links       []Link  `json:"links"`
}

func siteItem(ctx context.Context, v string, st *testbed.Site) SiteItem {
	n := 0
	for _, c := range st.Clusters {
		n += len(c.Nodes)
	}
	p := "/sites/" + st.UID
	return SiteItem{UID: st.UID, Type: "site", Name: st.Name, Description: st.Description, Location: st.Location,
		Latitude: st.Latitude, Longitude: st.Longitude, Clusters: len(st.Clusters), Nodes: n, Version: v,
		Links: []Link{
			link(ctx, "self", p, ItemType),
			link(ctx, "parent", "/sites", CollectionType),
			link(ctx, "clusters", p+"/clusters", CollectionType),
			link(ctx, "nodes", "/nodes?site="+st.UID, CollectionType),
			link(ctx, "versions", p+"/versions", CollectionType),
		}}
}

// ClusterItem is a homogeneous set of nodes of a site.
type ClusterItem struct {
	itemMedia
	UID         string   `json:"uid" example:"paravance"`
	Type        string   `json:"type" example:"cluster"`
	Site        string   `json:"site" example:"rennes"`
	Description string   `json:"description,omitempty"`
	Model       string   `json:"model,omitempty"`
	Queues      []string `json:"queues"`
	Driver      string   `json:"driver" doc:"How Gridflow acts on the nodes: sim, agent or docker" example:"sim"`
	Nodes       int      `json:"node_count"`
	Version     string   `json:"version"`
	Links       []Link   `json:"links"`
}

func clusterItem(ctx context.Context, v string, c *testbed.Cluster) ClusterItem {
	p := "/sites/" + c.Site + "/clusters/" + c.UID
	return ClusterItem{UID: c.UID, Type: "cluster", Site: c.Site, Description: c.Description, Model: c.Model,
		Queues: c.Queues, Driver: c.Driver.Kind, Nodes: len(c.Nodes), Version: v,
		Links: []Link{
			link(ctx, "self", p, ItemType),
			link(ctx, "parent", "/sites/"+c.Site, ItemType),
			link(ctx, "nodes", p+"/nodes", CollectionType),
			link(ctx, "versions", p+"/versions", CollectionType),
		}}
}

// NodeItem is one node with its hardware and its live state.
type NodeItem struct {
	itemMedia
	UID         string     `json:"uid" example:"paravance-1"`
	Type        string     `json:"type" example:"node"`
	Site        string     `json:"site" example:"rennes"`
	Cluster     string     `json:"cluster" example:"paravance"`
	Cores       int        `json:"cores" example:"16"`
	CPUModel    string     `json:"cpu_model,omitempty"`
	Memory      int64      `json:"memory" doc:"Bytes of RAM"`
	Disk        int64      `json:"disk" doc:"Bytes of local disk"`
	GPUCount    int        `json:"gpu_count"`
	GPUModel    string     `json:"gpu_model,omitempty"`
	NetworkRate int64      `json:"network_rate" doc:"Bits per second"`
	State       string     `json:"state,omitempty" doc:"Live state: free, reserved, deploying, down…; absent for past versions" example:"free"`
	StateReason string     `json:"state_reason,omitempty"`
	StateSince  *time.Time `json:"state_since,omitempty"`
	Version     string     `json:"version"`
	Links       []Link     `json:"links"`
}

func nodeItem(ctx context.Context, v string, n *testbed.Node, states map[string]store.NodeState) NodeItem {
	p := "/sites/" + n.Site + "/clusters/" + n.Cluster + "/nodes/" + n.UID
	it := NodeItem{UID: n.UID, Type: "node", Site: n.Site, Cluster: n.Cluster,
		Cores: n.Properties.Cores, CPUModel: n.Properties.CPUModel, Memory: n.Properties.Memory, Disk: n.Properties.Disk,
		GPUCount: n.Properties.GPUCount, GPUModel: n.Properties.GPUModel, NetworkRate: n.Properties.NetworkRate, Version: v,
		Links: []Link{
			link(ctx, "self", p, ItemType),
			link(ctx, "parent", "/sites/"+n.Site+"/clusters/"+n.Cluster, ItemType),
			link(ctx, "versions", p+"/versions", CollectionType),
		}}
	if states != nil {
		it.State = "free"
		if st, ok := states[n.UID]; ok {
			it.State, it.StateReason = st.State, st.Reason
			t := st.UpdatedAt
			it.StateSince = &t
		}
	}
	return it
}

// VersionItem is one version of the testbed reference.
type VersionItem struct {
	itemMedia
	UID     string    `json:"uid" doc:"sha1 of the testbed's content"`
	Type    string    `json:"type" example:"version"`
	Date    time.Time `json:"date"`
	Message string    `json:"message"`
	Author  string    `json:"author"`
	Links   []Link    `json:"links"`
}

func versionItem(ctx context.Context, v store.TestbedVersion, parent string) VersionItem {
	return VersionItem{UID: v.UID, Type: "version", Date: v.CreatedAt, Message: v.Message, Author: v.Author,
		Links: []Link{link(ctx, "self", "/versions/"+v.UID, ItemType), link(ctx, "parent", parent, CollectionType)}}
}

type SitePath struct {
	Site string `path:"site" maxLength:"64" doc:"Site uid" example:"rennes"`
}
type ClusterPath struct {
	SitePath
	Cluster string `path:"cluster" maxLength:"64" doc:"Cluster uid" example:"paravance"`
}
type NodePath struct {
	ClusterPath
	Node string `path:"node" maxLength:"128" doc:"Node uid" example:"paravance-1"`
}

func findSite(ctx context.Context, tb *testbed.Testbed, site string) (*testbed.Site, error) {
	if st := tb.Site(site); st != nil {
		return st, nil
	}
	return nil, huma.Error404NotFound("no site " + quote(site) + ": list them at " + base(ctx) + "/sites")
}

func findCluster(ctx context.Context, tb *testbed.Testbed, site, cluster string) (*testbed.Cluster, error) {
	if _, err := findSite(ctx, tb, site); err != nil {
		return nil, err
	}
	if c := tb.Cluster(site, cluster); c != nil {
		return c, nil
	}
	return nil, huma.Error404NotFound("no cluster " + quote(cluster) + " at site " + quote(site) + ": list them at " + base(ctx) + "/sites/" + site + "/clusters")
}

func findNode(ctx context.Context, tb *testbed.Testbed, site, cluster, node string) (*testbed.Node, error) {
	if _, err := findCluster(ctx, tb, site, cluster); err != nil {
		return nil, err
	}
	if n := tb.Node(node); n != nil && n.Site == site && n.Cluster == cluster {
		return n, nil
	}
	return nil, huma.Error404NotFound("no node " + quote(node) + " in cluster " + quote(cluster) + " at site " + quote(site))
}

// NodeFilter selects nodes across the testbed by location, hardware and state.
type NodeFilter struct {
	Site        string `query:"site" maxLength:"64" doc:"Only nodes of this site"`
	Cluster     string `query:"cluster" maxLength:"64" doc:"Only nodes of this cluster"`
	State       string `query:"state" enum:"free,reserved,deploying,down," doc:"Only nodes in this live state"`
	MinCores    int    `query:"min_cores" minimum:"0" doc:"At least this many cores"`
	MinMemory   string `query:"min_memory" maxLength:"20" doc:"At least this much memory, e.g. 64GiB"`
	MinGPUs     int    `query:"min_gpus" minimum:"0" doc:"At least this many GPUs (1 selects GPU nodes)"`
	GPUModel    string `query:"gpu_model" maxLength:"100" doc:"GPUs of this model (case-insensitive substring)"`
	Reservation string `query:"reservation" maxLength:"64" doc:"Only the nodes of this reservation"`
}

func (f NodeFilter) query() string {
	var parts []string
	add := func(k, v string) {
		if v != "" && v != "0" {
			parts = append(parts, k+"="+v)
		}
	}
	add("site", f.Site)
	add("cluster", f.Cluster)
	add("state", f.State)
	add("min_cores", strconv.Itoa(f.MinCores))
	add("min_memory", f.MinMemory)
	add("min_gpus", strconv.Itoa(f.MinGPUs))
	add("gpu_model", f.GPUModel)
	add("reservation", f.Reservation)
	return strings.Join(parts, "&")
}

func (s *Server) registerReference(api huma.API) {
	huma.Register(api, op("list-sites", http.MethodGet, "/v1/sites", "List the sites of the testbed", "reference"),
		func(ctx context.Context, in *struct {
			Paging
			RefQuery
		}) (*struct{ Body Collection[SiteItem] }, error) {
			snap, _, err := s.snapshot(ctx, in.RefQuery)
			if err != nil {
				return nil, err
			}
			items := make([]SiteItem, len(snap.Testbed.Sites))
			for i, st := range snap.Testbed.Sites {
				items[i] = siteItem(ctx, snap.Version.UID, st)
			}
			return &struct{ Body Collection[SiteItem] }{page(ctx, items, in.Paging, "/sites", "", "")}, nil
		})
	huma.Register(api, op("get-site", http.MethodGet, "/v1/sites/{site}", "Get a site", "reference"),
		func(ctx context.Context, in *struct {
			SitePath
			RefQuery
		}) (*struct{ Body SiteItem }, error) {
			snap, _, err := s.snapshot(ctx, in.RefQuery)
			if err != nil {
				return nil, err
			}
			st, err := findSite(ctx, snap.Testbed, in.Site)
			if err != nil {
				return nil, err
			}
			return &struct{ Body SiteItem }{siteItem(ctx, snap.Version.UID, st)}, nil
		})
	huma.Register(api, op("list-clusters", http.MethodGet, "/v1/sites/{site}/clusters", "List the clusters of a site", "reference"),
		func(ctx context.Context, in *struct {
			SitePath
			Paging
			RefQuery
		}) (*struct{ Body Collection[ClusterItem] }, error) {
			snap, _, err := s.snapshot(ctx, in.RefQuery)
			if err != nil {
				return nil, err
			}
			st, err := findSite(ctx, snap.Testbed, in.Site)
			if err != nil {
				return nil, err
			}
			items := make([]ClusterItem, len(st.Clusters))
			for i, c := range st.Clusters {
				items[i] = clusterItem(ctx, snap.Version.UID, c)
			}
			return &struct{ Body Collection[ClusterItem] }{page(ctx, items, in.Paging, "/sites/"+st.UID+"/clusters", "/sites/"+st.UID, "")}, nil
		})
	huma.Register(api, op("get-cluster", http.MethodGet, "/v1/sites/{site}/clusters/{cluster}", "Get a cluster", "reference"),
		func(ctx context.Context, in *struct {
			ClusterPath
			RefQuery
		}) (*struct{ Body ClusterItem }, error) {
			snap, _, err := s.snapshot(ctx, in.RefQuery)
			if err != nil {
				return nil, err
			}
			c, err := findCluster(ctx, snap.Testbed, in.Site, in.Cluster)
			if err != nil {
				return nil, err
			}
			return &struct{ Body ClusterItem }{clusterItem(ctx, snap.Version.UID, c)}, nil
		})
	huma.Register(api, op("list-cluster-nodes", http.MethodGet, "/v1/sites/{site}/clusters/{cluster}/nodes", "List the nodes of a cluster", "reference"),
		func(ctx context.Context, in *struct {
			ClusterPath
			Paging
			RefQuery
			State string `query:"state" enum:"free,reserved,deploying,down," doc:"Only nodes in this live state"`
		}) (*struct{ Body Collection[NodeItem] }, error) {
			snap, live, err := s.snapshot(ctx, in.RefQuery)
			if err != nil {
				return nil, err
			}
			c, err := findCluster(ctx, snap.Testbed, in.Site, in.Cluster)
			if err != nil {
				return nil, err
			}
			items, err := s.nodeItems(ctx, snap, live, c.Nodes, NodeFilter{State: in.State})
			if err != nil {
				return nil, err
			}
			extra := ""
			if in.State != "" {
				extra = "state=" + in.State
			}
			p := "/sites/" + c.Site + "/clusters/" + c.UID
			return &struct{ Body Collection[NodeItem] }{page(ctx, items, in.Paging, p+"/nodes", p, extra)}, nil
		})
	huma.Register(api, op("get-node", http.MethodGet, "/v1/sites/{site}/clusters/{cluster}/nodes/{node}", "Get a node with its live state", "reference"),
		func(ctx context.Context, in *struct {
			NodePath
			RefQuery
		}) (*struct{ Body NodeItem }, error) {
			snap, live, err := s.snapshot(ctx, in.RefQuery)
			if err != nil {
				return nil, err
			}
			n, err := findNode(ctx, snap.Testbed, in.Site, in.Cluster, in.Node)
			if err != nil {
				return nil, err
			}
			items, err := s.nodeItems(ctx, snap, live, []*testbed.Node{n}, NodeFilter{})
			if err != nil {
				return nil, err
			}
			return &struct{ Body NodeItem }{items[0]}, nil
		})
	huma.Register(api, op("list-nodes", http.MethodGet, "/v1/nodes", "Find nodes across the testbed by location, hardware and state", "reference"),
		func(ctx context.Context, in *struct {
			Paging
			RefQuery
			NodeFilter
		}) (*struct{ Body Collection[NodeItem] }, error) {
			snap, live, err := s.snapshot(ctx, in.RefQuery)
			if err != nil {
				return nil, err
			}
			items, err := s.nodeItems(ctx, snap, live, snap.Testbed.Nodes(), in.NodeFilter)
			if err != nil {
				return nil, err
			}
			return &struct{ Body Collection[NodeItem] }{page(ctx, items, in.Paging, "/nodes", "", in.NodeFilter.query())}, nil
		})
	s.registerVersions(api)
}

// nodeItems renders nodes that pass the filter, with live states when live.
func (s *Server) nodeItems(ctx context.Context, snap *engine.Snapshot, live bool, nodes []*testbed.Node, f NodeFilter) ([]NodeItem, error) {
	var states map[string]store.NodeState
	if live {
		var err error
		if states, err = s.eng.NodeStates(ctx); err != nil {
			return nil, huma.Error503ServiceUnavailable("cannot read node states: " + err.Error())
		}
	} else if f.State != "" {
		return nil, huma.Error400BadRequest("state filters apply to the current testbed only, not to past versions")
	}
	var minMem int64
	if f.MinMemory != "" {
		m, err := units.ParseSize(f.MinMemory)
		if err != nil {
			return nil, huma.Error422UnprocessableEntity("min_memory: " + err.Error())
		}
		minMem = m
	}
	if f.Site != "" && snap.Testbed.Site(f.Site) == nil {
		return nil, huma.Error404NotFound("no site " + quote(f.Site) + ": list them at " + base(ctx) + "/sites")
	}
	var held map[string]bool
	if f.Reservation != "" {
		r, err := s.eng.Store.GetReservation(ctx, f.Reservation)
		if err != nil {
			return nil, huma.Error404NotFound("no reservation " + quote(f.Reservation))
		}
		if p := caller(ctx); p != nil && !p.User.Admin && p.User.Name != r.Owner {
			return nil, huma.Error403Forbidden("reservation " + r.ID + " belongs to " + r.Owner)
		}
		held = map[string]bool{}
		for _, n := range r.Nodes {
			held[n] = true
		}
	}
	items := make([]NodeItem, 0, len(nodes))
	for _, n := range nodes {
		if held != nil && !held[n.UID] {
			continue
		}
		p := n.Properties
		if (f.Site != "" && n.Site != f.Site) || (f.Cluster != "" && n.Cluster != f.Cluster) ||
			p.Cores < f.MinCores || p.Memory < minMem || p.GPUCount < f.MinGPUs ||
			(f.GPUModel != "" && !strings.Contains(strings.ToLower(p.GPUModel), strings.ToLower(f.GPUModel))) {
			continue
		}
		it := nodeItem(ctx, snap.Version.UID, n, states)
		if f.State != "" && it.State != f.State {
			continue
		}
		items = append(items, it)
	}
	return items, nil
}

func (s *Server) registerVersions(api huma.API) {
	huma.Register(api, op("list-versions", http.MethodGet, "/v1/versions", "List the versions of the testbed reference, newest first", "reference"),
		func(ctx context.Context, in *struct{ Paging }) (*struct{ Body Collection[VersionItem] }, error) {
			vs, total, err := s.eng.Store.ListTestbedVersions(ctx, in.Offset, in.Limit)
			if err != nil {
				return nil, storeError(err, "versions")
			}
			items := make([]VersionItem, len(vs))
			for i, v := range vs {
				items[i] = versionItem(ctx, v, "/versions")
			}
			return &struct{ Body Collection[VersionItem] }{storePage(ctx, items, total, in.Paging, "/versions", "", "")}, nil
		})
	huma.Register(api, op("get-version", http.MethodGet, "/v1/versions/{uid}", "Get one version of the testbed reference", "reference"),
		func(ctx context.Context, in *struct {
			UID string `path:"uid" maxLength:"64"`
		}) (*struct{ Body VersionItem }, error) {
			v, err := s.eng.Store.GetTestbedVersion(ctx, in.UID)
			if err != nil {
				return nil, storeError(err, "version "+quote(in.UID))
			}
			return &struct{ Body VersionItem }{versionItem(ctx, v, "/versions")}, nil
		})

	// Per-resource history: the versions in which that resource changed.
	history := func(ctx context.Context, p Paging, path string, pick func(*testbed.Testbed) any) (*struct{ Body Collection[VersionItem] }, error) {
		snaps, err := s.eng.AllVersions(ctx)
		if err != nil {
			return nil, storeError(err, "versions")
		}
		var items []VersionItem
		for i, sn := range snaps { // newest first
			cur, _ := json.Marshal(pick(sn.Testbed))
			var older []byte
			if i+1 < len(snaps) {
				older, _ = json.Marshal(pick(snaps[i+1].Testbed))
			}
			if string(cur) != "null" && string(cur) != string(older) {
				items = append(items, versionItem(ctx, sn.Version, path))
			}
		}
		if len(items) == 0 {
			return nil, huma.Error404NotFound("no version of the testbed has " + base(ctx) + strings.TrimSuffix(path, "/versions"))
		}
		return &struct{ Body Collection[VersionItem] }{page(ctx, items, p, path, strings.TrimSuffix(path, "/versions"), "")}, nil
	}
	huma.Register(api, op("list-site-versions", http.MethodGet, "/v1/sites/{site}/versions", "Versions in which a site changed", "reference"),
		func(ctx context.Context, in *struct {
			SitePath
			Paging
		}) (*struct{ Body Collection[VersionItem] }, error) {
			return history(ctx, in.Paging, "/sites/"+in.Site+"/versions", func(tb *testbed.Testbed) any { return nilIfNil(tb.Site(in.Site)) })
		})
	huma.Register(api, op("list-cluster-versions", http.MethodGet, "/v1/sites/{site}/clusters/{cluster}/versions", "Versions in which a cluster changed", "reference"),
		func(ctx context.Context, in *struct {
			ClusterPath
			Paging
		}) (*struct{ Body Collection[VersionItem] }, error) {
			return history(ctx, in.Paging, "/sites/"+in.Site+"/clusters/"+in.Cluster+"/versions",
				func(tb *testbed.Testbed) any { return nilIfNil(tb.Cluster(in.Site, in.Cluster)) })
		})
	huma.Register(api, op("list-node-versions", http.MethodGet, "/v1/sites/{site}/clusters/{cluster}/nodes/{node}/versions", "Versions in which a node changed", "reference"),
		func(ctx context.Context, in *struct {
			NodePath
			Paging
		}) (*struct{ Body Collection[VersionItem] }, error) {
			return history(ctx, in.Paging, "/sites/"+in.Site+"/clusters/"+in.Cluster+"/nodes/"+in.Node+"/versions",
				func(tb *testbed.Testbed) any {
					n := tb.Node(in.Node)
					if n == nil || n.Site != in.Site || n.Cluster != in.Cluster {
						return nil
					}
					return n
				})
		})
}

// nilIfNil turns a typed nil pointer into an untyped nil so it marshals as null.
func nilIfNil[T any](p *T) any {
	if p == nil {
		return nil
	}
	return p
}
