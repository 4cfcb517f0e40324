package testbed

import "time"

// Testbed is the reference inventory described by a testbed file: sites, their
// clusters and the nodes of each cluster. It is a plain value: it can be
// marshalled to JSON, and a Testbed returned by Parse is never modified again by
// this package, so it is safe to share between goroutines.
type Testbed struct {
	Sites []*Site `json:"sites"`

	// byUID indexes the nodes of a parsed testbed. It is nil for a Testbed
	// built by hand or decoded from JSON; the lookups then scan.
	byUID map[string]*Node
}

// Site is a geographical location that hosts clusters (a Grid'5000 site).
type Site struct {
	UID         string     `json:"uid"`
	Name        string     `json:"name"`
	Description string     `json:"description,omitempty"`
	Location    string     `json:"location,omitempty"`
	Latitude    float64    `json:"latitude"`
	Longitude   float64    `json:"longitude"`
	Clusters    []*Cluster `json:"clusters"`
}

// Cluster is a set of nodes of one hardware model, driven by one driver.
type Cluster struct {
	UID         string `json:"uid"`
	Site        string `json:"site"`
	Description string `json:"description,omitempty"`
	Model       string `json:"model,omitempty"`
	// Queues are the reservation queues of the cluster; DefaultQueues when the
	// file does not say.
	Queues []string `json:"queues"`
	Driver Driver   `json:"driver"`
	Nodes  []*Node  `json:"nodes"`
}

// Driver kinds.
const (
	DriverSim    = "sim"
	DriverAgent  = "agent"
	DriverDocker = "docker"
)

// Driver says how the engine acts on the nodes of a cluster.
type Driver struct {
	Kind string     `json:"kind"` // DriverSim, DriverAgent or DriverDocker
	Sim  *SimConfig `json:"sim,omitempty"`
	// Agents maps each node uid of the cluster to the "host:port" of its
	// gridflow agent; set for kind "agent" only.
	Agents map[string]string `json:"agents,omitempty"`
	// Docker says where the Docker Engines of a docker cluster are; set for
	// kind "docker" only.
	Docker *DockerConfig `json:"docker,omitempty"`
}

// DockerConfig addresses the Docker Engines of a docker cluster: each node is
// a Docker Engine ("unix:///var/run/docker.sock", "tcp://10.0.0.5:2375").
type DockerConfig struct {
	// Host is the engine of the nodes Hosts does not name; empty: the
	// engine's $DOCKER_HOST, else the local socket.
	Host string `json:"host,omitempty"`
	// Hosts maps node uids to their own engines.
	Hosts map[string]string `json:"hosts,omitempty"`
}

// DockerHost returns the Docker Engine of a node of a docker cluster ("":
// the default one).
func (d Driver) DockerHost(node string) string {
	if d.Docker == nil {
		return ""
	}
	if h, ok := d.Docker.Hosts[node]; ok {
		return h
	}
	return d.Docker.Host
}

// SimConfig tunes simulated hardware.
type SimConfig struct {
	BootTime    time.Duration `json:"boot_time"`
	DeployTime  time.Duration `json:"deploy_time"`
	CopyRate    int64         `json:"copy_rate"`    // bits per second, > 0
	FailureRate float64       `json:"failure_rate"` // probability in [0, 1]
	Seed        int64         `json:"seed"`
}

// Node is one machine. Its UID is unique across the whole testbed.
type Node struct {
	UID        string     `json:"uid"`
	Site       string     `json:"site"`
	Cluster    string     `json:"cluster"`
	Properties Properties `json:"properties"`
}

// Properties are the hardware facts a reservation can filter on.
type Properties struct {
	Cores       int    `json:"cores"`
	CPUModel    string `json:"cpu_model,omitempty"`
	Memory      int64  `json:"memory"` // bytes
	Disk        int64  `json:"disk"`   // bytes
	GPUCount    int    `json:"gpu_count"`
	GPUModel    string `json:"gpu_model,omitempty"`
	NetworkRate int64  `json:"network_rate"` // bits per second
}

// Site returns the site with the given uid, or nil.
func (t *Testbed) Site(uid string) *Site {
	if t == nil {
		return nil
	}
	for _, s := range t.Sites {
		if s.UID == uid {
			return s
		}
	}
	return nil
}

// Cluster returns the cluster with the given uid on the given site, or nil.
func (t *Testbed) Cluster(site, cluster string) *Cluster {
	s := t.Site(site)
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

// Node returns the node with the given uid, or nil.
func (t *Testbed) Node(uid string) *Node {
	if t == nil {
		return nil
	}
	if t.byUID != nil {
		// The index is built by Parse; the UID check guards against a
		// caller that renamed a node afterwards.
		if n := t.byUID[uid]; n != nil && n.UID == uid {
			return n
		}
	}
	for _, s := range t.Sites {
		for _, c := range s.Clusters {
			for _, n := range c.Nodes {
				if n.UID == uid {
					return n
				}
			}
		}
	}
	return nil
}

// Nodes returns every node of the testbed: sites and clusters in file order,
// the nodes of a cluster in declaration order. The slice is new on each call.
func (t *Testbed) Nodes() []*Node {
	if t == nil {
		return nil
	}
	n := 0
	for _, s := range t.Sites {
		for _, c := range s.Clusters {
			n += len(c.Nodes)
		}
	}
	out := make([]*Node, 0, n)
	for _, s := range t.Sites {
		for _, c := range s.Clusters {
			out = append(out, c.Nodes...)
		}
	}
	return out
}

// Clusters returns every cluster of the testbed, sites in file order.
func (t *Testbed) Clusters() []*Cluster {
	if t == nil {
		return nil
	}
	var out []*Cluster
	for _, s := range t.Sites {
		out = append(out, s.Clusters...)
	}
	return out
}
